package runtime

import (
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"
)

// The errors a guest gets when a file limit refuses it. wazero's file
// system interface (experimental/sys, v1.12) has no EMFILE, ENOSPC or
// EDQUOT: any other errno reaches the guest as EIO, the host's own ENOSPC
// included. The closest it has are used, and the plugin's logger gets one
// record per call saying which limit refused what.
const (
	// errTooManyOpen: POSIX uses EAGAIN for a per-process resource limit
	// that closing something lifts (fork past RLIMIT_NPROC). Go's os
	// package reports it as "resource temporarily unavailable".
	errTooManyOpen = experimentalsys.EAGAIN
	// errQuota: what a full disk gives a guest under wazero ("input/output
	// error"); unlike EAGAIN, no guest retries it in a loop.
	errQuota = experimentalsys.EIO
)

// maxQuotaWalk bounds the entries NewPlugin walks to count what the
// writable mounts already hold.
const maxQuotaWalk = 100_000

// Kinds of refusal, reported once per call each (logBudget.notice).
const (
	noticeOpenFiles uint8 = 1 << iota
	noticeWriteQuota
)

// pluginMount is a mount as the plugin keeps it: the file system every
// instance shares (wazero's, stateless, with noLinks and ReadFS), wrapped
// per instance by limitedFS.
type pluginMount struct {
	fs    experimentalsys.FS
	guest string
	quota *writeQuota // nil: read-only mount, or no quota
}

// mountConfig prepares cfg's mounts and the write quota: it counts the
// bytes the writable mounts already hold.
func mountConfig(cfg *PluginConfig) ([]pluginMount, error) {
	var quota *writeQuota
	if cfg.WriteQuotaBytes > 0 {
		quota = &writeQuota{limit: cfg.WriteQuotaBytes, open: make(map[inodeKey]*openInode)}
		var roots []string
		for _, m := range cfg.Mounts {
			if !m.ReadOnly {
				roots = append(roots, m.HostPath)
			}
		}
		used, err := diskUsage(roots, maxQuotaWalk)
		if err != nil {
			return nil, fmt.Errorf("runtime: write quota: %w", err)
		}
		quota.used = used
	}
	mounts := make([]pluginMount, 0, len(cfg.Mounts))
	for _, m := range cfg.Mounts {
		var dir experimentalsys.FS = noLinks{sysfs.DirFS(m.HostPath)}
		pm := pluginMount{guest: m.GuestPath}
		if m.ReadOnly {
			dir = &sysfs.ReadFS{FS: dir}
		} else {
			pm.quota = quota
		}
		pm.fs = dir
		mounts = append(mounts, pm)
	}
	return mounts, nil
}

// fsConfig returns the mounts as one instance sees them: wrapped so that
// they count the instance's open files and, when writable, charge the
// plugin's write quota. It costs an allocation per mount, a few hundred
// nanoseconds per instance (BenchmarkFSConfig).
func (p *Plugin) fsConfig(inst *instance) wazero.FSConfig {
	files := &instanceFiles{max: int64(p.cfg.MaxOpenFiles), logs: &inst.logs}
	fsc := wazero.NewFSConfig()
	for _, m := range p.mounts {
		fsc = fsc.(sysfs.FSConfig).WithSysFSMount(&limitedFS{FS: m.fs, files: files, quota: m.quota}, m.guest)
	}
	return fsc
}

// diskUsage sums the sizes of the regular files under roots, each hard
// linked file once, looking at no more than limit entries. Symbolic links
// are not followed (but a root that is one is).
func diskUsage(roots []string, limit int) (int64, error) {
	var total int64
	entries := 0
	seen := make(map[inodeKey]bool)
	for _, root := range roots {
		real, err := filepath.EvalSymlinks(root)
		if err != nil {
			return 0, err
		}
		err = filepath.WalkDir(real, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if entries++; entries > limit {
				return fmt.Errorf("the writable mounts hold more than %d entries", limit)
			}
			if !d.Type().IsRegular() {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			st := sys.NewStat_t(info)
			if st.Nlink > 1 {
				k := inodeKey{st.Dev, st.Ino}
				if seen[k] {
					return nil
				}
				seen[k] = true
			}
			total += st.Size
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	return total, nil
}

// instanceFiles is an instance's open-file count, shared by its mounts.
// Files are opened and written by the guest's goroutine, and closed by it
// or by whichever goroutine closes the instance: the count is atomic.
type instanceFiles struct {
	open atomic.Int64
	max  int64
	logs *logBudget // where refusals are reported (the guest's goroutine only)
}

// limitedFS is a mount as one instance sees it: it counts the files the
// instance opens, refusing past the limit, and charges writes to the
// plugin's write quota when it has one.
type limitedFS struct {
	experimentalsys.FS
	files *instanceFiles
	quota *writeQuota // nil: none
}

func (m *limitedFS) OpenFile(path string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	files := m.files
	if files.open.Add(1) > files.max {
		files.open.Add(-1)
		files.logs.notice(noticeOpenFiles, "guest open refused: open-file limit reached", "limit", files.max)
		return nil, errTooManyOpen
	}
	var f *limitedFile
	var errno experimentalsys.Errno
	if m.quota != nil {
		f, errno = m.quota.openFile(m.FS, path, flag, perm)
	} else {
		var inner experimentalsys.File
		if inner, errno = m.FS.OpenFile(path, flag, perm); errno == 0 {
			f = &limitedFile{File: inner}
		}
	}
	if errno != 0 {
		files.open.Add(-1)
		return nil, errno
	}
	f.fs = m
	// wazero polls and sets non-blocking mode only on files that say they
	// can: keep saying it when the file does.
	if pf, ok := f.File.(experimentalsys.PollableFile); ok {
		return &pollableFile{f, pf}, 0
	}
	return f, 0
}

func (m *limitedFS) Unlink(path string) experimentalsys.Errno {
	if m.quota == nil {
		return m.FS.Unlink(path)
	}
	return m.quota.unlink(m.FS, path)
}

func (m *limitedFS) Rename(from, to string) experimentalsys.Errno {
	if m.quota == nil {
		return m.FS.Rename(from, to)
	}
	return m.quota.rename(m.FS, from, to)
}

// limitedFile is a file a limitedFS opened: closing it gives back its
// place in the open-file count, and writes are charged to the quota.
type limitedFile struct {
	experimentalsys.File
	fs     *limitedFS
	closed atomic.Bool
	// Set for a regular file under a quota: the inode whose size the
	// quota tracks.
	regular bool
	inode   inodeKey
}

func (f *limitedFile) quota() *writeQuota {
	if !f.regular {
		return nil
	}
	return f.fs.quota
}

func (f *limitedFile) Write(buf []byte) (int, experimentalsys.Errno) {
	if q := f.quota(); q != nil && len(buf) > 0 {
		return q.write(f, buf, -1)
	}
	return f.File.Write(buf)
}

func (f *limitedFile) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if q := f.quota(); q != nil && len(buf) > 0 {
		return q.write(f, buf, off)
	}
	return f.File.Pwrite(buf, off)
}

// Truncate also serves fd_allocate, which wazero implements with it.
func (f *limitedFile) Truncate(size int64) experimentalsys.Errno {
	if q := f.quota(); q != nil {
		return q.truncate(f, size)
	}
	return f.File.Truncate(size)
}

// Close closes the file once; wazero may call it again (when the first
// close failed, and again as the module closes).
func (f *limitedFile) Close() experimentalsys.Errno {
	if f.closed.Swap(true) {
		return f.File.Close()
	}
	if q := f.quota(); q != nil {
		q.closing(f)
	}
	errno := f.File.Close()
	f.fs.files.open.Add(-1)
	return errno
}

// pollableFile is a limitedFile whose file can be polled (wazero's host
// files can).
type pollableFile struct {
	*limitedFile
	pf experimentalsys.PollableFile
}

func (f *pollableFile) IsNonblock() bool { return f.pf.IsNonblock() }
func (f *pollableFile) SetNonblock(enable bool) experimentalsys.Errno {
	return f.pf.SetNonblock(enable)
}
func (f *pollableFile) Poll(flag experimentalsys.Pflag, timeoutMillis int32) (bool, experimentalsys.Errno) {
	return f.pf.Poll(flag, timeoutMillis)
}

// writeQuota bounds the bytes the regular files under a plugin's writable
// mounts hold, summed (their sizes, a sparse file's holes included). It is
// the plugin's, shared by its instances: every change of size goes
// through mu, which is held across the system calls, so that a check and
// the write it allows are one step. Only the guest's changes are seen:
// the host's are not, until the next NewPlugin counts again.
type writeQuota struct {
	limit int64
	mu    sync.Mutex
	used  int64
	// open holds the regular files the guests have open, so that removing
	// one frees its bytes only when it is closed: until then they are
	// still on disk.
	open map[inodeKey]*openInode
}

type inodeKey struct {
	dev uint64
	ino sys.Inode
}

type openInode struct {
	refs     int
	unlinked bool // its last name is gone: its bytes are freed at the last close
}

func keyOf(st sys.Stat_t) inodeKey { return inodeKey{st.Dev, st.Ino} }

// openFile opens a file of fsys, tracking it if it is a regular file.
func (q *writeQuota) openFile(fsys experimentalsys.FS, path string, flag experimentalsys.Oflag, perm fs.FileMode) (*limitedFile, experimentalsys.Errno) {
	q.mu.Lock()
	defer q.mu.Unlock()
	// O_TRUNC frees what the file held. Lstat, not Stat: a symbolic link
	// (the operator's) may lead to a file the quota never counted.
	var before sys.Stat_t
	truncating := false
	if flag&experimentalsys.O_TRUNC != 0 {
		if st, errno := fsys.Lstat(path); errno == 0 && st.Mode.IsRegular() {
			before, truncating = st, true
		}
	}
	inner, errno := fsys.OpenFile(path, flag, perm)
	if errno != 0 {
		return nil, errno
	}
	f := &limitedFile{File: inner}
	st, errno := inner.Stat()
	if errno != 0 {
		inner.Close()
		return nil, errno
	}
	if !st.Mode.IsRegular() {
		return f, 0
	}
	f.regular, f.inode = true, keyOf(st)
	if truncating && keyOf(before) == f.inode {
		q.add(-before.Size)
	}
	ref := q.open[f.inode]
	if ref == nil {
		ref = &openInode{}
		q.open[f.inode] = ref
	}
	ref.refs++
	return f, 0
}

// add changes used by n, never below 0 (the host may have removed what
// was counted).
func (q *writeQuota) add(n int64) { q.used = max(q.used+n, 0) }

// over reports whether growing the files by growth bytes would take the
// total past the limit, and if so tells the operator, once a call.
func (q *writeQuota) over(f *limitedFile, growth int64) bool {
	if growth <= 0 || growth <= q.limit-q.used {
		return false
	}
	f.fs.files.logs.notice(noticeWriteQuota, "guest write refused: write quota reached", "limit", q.limit)
	return true
}

// write writes buf at off (-1: at the file's offset), all of it or
// nothing when it would take the total past the limit. All or nothing:
// wazero's fd_write goes on to the next buffer after a short write.
func (q *writeQuota) write(f *limitedFile, buf []byte, off int64) (int, experimentalsys.Errno) {
	q.mu.Lock()
	defer q.mu.Unlock()
	st, errno := f.File.Stat()
	if errno != 0 {
		return 0, errno
	}
	pos := off
	if off < 0 {
		if f.File.IsAppend() {
			pos = st.Size
		} else if pos, errno = f.File.Seek(0, io.SeekCurrent); errno != 0 {
			return 0, errno
		}
	}
	if q.over(f, pos+int64(len(buf))-st.Size) {
		return 0, errQuota
	}
	var n int
	if off < 0 {
		n, errno = f.File.Write(buf)
	} else {
		n, errno = f.File.Pwrite(buf, off)
	}
	if grown := pos + int64(n) - st.Size; grown > 0 {
		q.add(grown)
	}
	return n, errno
}

func (q *writeQuota) truncate(f *limitedFile, size int64) experimentalsys.Errno {
	q.mu.Lock()
	defer q.mu.Unlock()
	st, errno := f.File.Stat()
	if errno != 0 {
		return errno
	}
	growth := size - st.Size
	if q.over(f, growth) {
		return errQuota
	}
	if errno := f.File.Truncate(size); errno != 0 {
		return errno
	}
	q.add(growth)
	return 0
}

// closing is called as f is closed, before its descriptor is: the last
// close of a removed file frees its bytes.
func (q *writeQuota) closing(f *limitedFile) {
	q.mu.Lock()
	defer q.mu.Unlock()
	ref := q.open[f.inode]
	if ref == nil {
		return
	}
	if ref.refs--; ref.refs > 0 {
		return
	}
	delete(q.open, f.inode)
	if ref.unlinked {
		if st, errno := f.File.Stat(); errno == 0 && st.Nlink == 0 {
			q.add(-st.Size)
		}
	}
}

func (q *writeQuota) unlink(fsys experimentalsys.FS, path string) experimentalsys.Errno {
	q.mu.Lock()
	defer q.mu.Unlock()
	st, lerr := fsys.Lstat(path)
	if errno := fsys.Unlink(path); errno != 0 {
		return errno
	}
	if lerr == 0 {
		q.removed(st)
	}
	return 0
}

func (q *writeQuota) rename(fsys experimentalsys.FS, from, to string) experimentalsys.Errno {
	q.mu.Lock()
	defer q.mu.Unlock()
	// A file renamed over another replaces it: the other's bytes go.
	dst, dstErr := fsys.Lstat(to)
	src, srcErr := fsys.Lstat(from)
	if errno := fsys.Rename(from, to); errno != 0 {
		return errno
	}
	if dstErr == 0 && (srcErr != 0 || keyOf(src) != keyOf(dst)) {
		q.removed(dst)
	}
	return 0
}

// removed accounts for a name that is gone: when it was a regular file's
// last, its bytes are freed, now or at its last close.
func (q *writeQuota) removed(st sys.Stat_t) {
	if !st.Mode.IsRegular() || st.Nlink > 1 {
		return
	}
	if ref := q.open[keyOf(st)]; ref != nil {
		ref.unlinked = true
		return
	}
	q.add(-st.Size)
}

// noLinks is a mounted host directory in which the guest cannot make
// links. The host's kernel resolves symbolic links, so a link the guest
// made could lead out of the mount to anywhere on the host, or from a
// writable mount into a read-only one; a hard link could give a second,
// writable name to a file. Links already in the directory (the operator's)
// are followed.
type noLinks struct{ experimentalsys.FS }

func (noLinks) Symlink(_, _ string) experimentalsys.Errno { return experimentalsys.EPERM }
func (noLinks) Link(_, _ string) experimentalsys.Errno    { return experimentalsys.EPERM }
