package artifact

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strings"
)

// ZIP record signatures and sizes (APPNOTE.TXT 4.3).
const (
	sigLocal        = 0x04034b50
	sigCentral      = 0x02014b50
	sigEnd          = 0x06054b50
	sigZip64Locator = 0x07064b50
	localLen        = 30
	centralLen      = 46
	endLen          = 22
	zip64LocatorLen = 20
	maxCommentLen   = 0xffff

	flagEncrypted      = 1 << 0
	flagDataDescriptor = 1 << 3
	flagStrongEncrypt  = 1 << 6
	flagMaskedHeaders  = 1 << 13
	// Bits 1–2 only describe the deflate level and bit 11 marks UTF-8
	// names; neither changes how the entry is read.
	flagsAllowed = 1<<1 | 1<<2 | 1<<11

	methodStore   = 0
	methodDeflate = 8

	extraZip64 = 0x0001
)

// allowedExtra are the extra fields tolerated: timestamps and Unix owner ids
// that writers add and that change nothing about the content. Anything else
// — in particular ZIP64 sizes, the Info-ZIP Unicode path (0x7075, which some
// extractors prefer over the header name), ASi Unix (0x756e, which can carry
// a symlink target) and encryption headers — is refused.
var allowedExtra = map[uint16]bool{
	0x5455: true, // extended timestamp
	0x7875: true, // Info-ZIP Unix uid/gid
	0x000a: true, // NTFS timestamps
}

// entry is one file as the central directory describes it, plus the extent
// of its local record once the local header has been read.
type entry struct {
	name           string
	creatorVersion uint16
	readerVersion  uint16
	flags          uint16
	method         uint16
	modTime        uint16
	modDate        uint16
	crc            uint32
	csize, usize   uint64
	external       uint32
	offset         int64 // local header
	dataOffset     int64 // first byte of the (compressed) data
}

// end is the extent of the entry's local record.
func (e *entry) end() int64 { return e.dataOffset + int64(e.csize) }

// readAt fills p from r at off. io.ReaderAt may report io.EOF along with a
// full read at the end of the input; that is success. A short read means r
// holds fewer bytes than the size Open was given.
func readAt(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// readEnd locates the end of central directory record. The archive must end
// with it: anything after it is CheckTrailingData, a comment CheckComment.
func readEnd(r io.ReaderAt, size int64) (cdOffset, cdSize int64, count int, endOffset int64, err error) {
	if size < endLen {
		return 0, 0, 0, 0, fail(CheckEndRecord, "", ErrMalformedArchive, "%d bytes is too short for a ZIP", size)
	}
	tailLen := min(size, endLen+maxCommentLen+zip64LocatorLen)
	tail := make([]byte, tailLen)
	if err := readAt(r, tail, size-tailLen); err != nil {
		return 0, 0, 0, 0, fmt.Errorf("artifact: read end record: %w", err)
	}
	at := -1
	for i := len(tail) - endLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(tail[i:]) != sigEnd {
			continue
		}
		if i+endLen+int(binary.LittleEndian.Uint16(tail[i+20:])) <= len(tail) {
			at = i
			break
		}
	}
	if at < 0 {
		return 0, 0, 0, 0, fail(CheckEndRecord, "", ErrMalformedArchive, "no end of central directory record")
	}
	rec := tail[at : at+endLen]
	endOffset = size - tailLen + int64(at)
	if n := binary.LittleEndian.Uint16(rec[20:]); n != 0 {
		return 0, 0, 0, 0, fail(CheckComment, "", ErrMalformedArchive, "archive comment of %d bytes", n)
	}
	if extra := size - endOffset - endLen; extra != 0 {
		return 0, 0, 0, 0, fail(CheckTrailingData, "", ErrMalformedArchive, "%d bytes after the end record", extra)
	}
	disk := binary.LittleEndian.Uint16(rec[4:])
	cdDisk := binary.LittleEndian.Uint16(rec[6:])
	onDisk := binary.LittleEndian.Uint16(rec[8:])
	total := binary.LittleEndian.Uint16(rec[10:])
	size32 := binary.LittleEndian.Uint32(rec[12:])
	off32 := binary.LittleEndian.Uint32(rec[16:])
	// Values saturated to all-ones mean "see the ZIP64 record". Artifacts
	// are capped far below 4 GiB and 65535 entries, so ZIP64 is never
	// needed and is refused rather than parsed.
	if total == 0xffff || onDisk == 0xffff || size32 == 0xffffffff || off32 == 0xffffffff ||
		(at >= zip64LocatorLen && binary.LittleEndian.Uint32(tail[at-zip64LocatorLen:]) == sigZip64Locator) {
		return 0, 0, 0, 0, fail(CheckZip64, "", ErrMalformedArchive, "ZIP64 archives are not accepted")
	}
	if disk != 0 || cdDisk != 0 || onDisk != total {
		return 0, 0, 0, 0, fail(CheckEndRecord, "", ErrMalformedArchive, "multi-disk archive")
	}
	return int64(off32), int64(size32), int(total), endOffset, nil
}

// readCentral parses the central directory, which must fill
// [cdOffset, endOffset) exactly with count records.
func readCentral(r io.ReaderAt, cdOffset, cdSize int64, count int, endOffset int64) ([]*entry, error) {
	if cdOffset+cdSize > endOffset {
		return nil, fail(CheckCentralDirectory, "", ErrMalformedArchive, "central directory (offset %d, %d bytes) runs past the end record at %d", cdOffset, cdSize, endOffset)
	}
	if gap := endOffset - (cdOffset + cdSize); gap != 0 {
		// A central directory found right before the end record, but not
		// where the end record says, means bytes were put before the archive
		// without fixing its offsets (a self-extractor stub, a polyglot).
		var sig [4]byte
		if err := readAt(r, sig[:], endOffset-cdSize); err == nil && binary.LittleEndian.Uint32(sig[:]) == sigCentral {
			return nil, fail(CheckLeadingData, "", ErrMalformedArchive, "%d bytes before the archive", gap)
		}
		return nil, fail(CheckGap, "", ErrMalformedArchive, "%d bytes between the central directory and the end record", gap)
	}
	buf := make([]byte, cdSize)
	if err := readAt(r, buf, cdOffset); err != nil {
		return nil, fmt.Errorf("artifact: read central directory: %w", err)
	}
	entries := make([]*entry, 0, count)
	for i := 0; i < count; i++ {
		if len(buf) < centralLen || binary.LittleEndian.Uint32(buf) != sigCentral {
			return nil, fail(CheckCentralDirectory, "", ErrMalformedArchive, "record %d of %d missing or truncated", i+1, count)
		}
		nameLen := int(binary.LittleEndian.Uint16(buf[28:]))
		extraLen := int(binary.LittleEndian.Uint16(buf[30:]))
		commentLen := int(binary.LittleEndian.Uint16(buf[32:]))
		recLen := centralLen + nameLen + extraLen + commentLen
		if len(buf) < recLen {
			return nil, fail(CheckCentralDirectory, "", ErrMalformedArchive, "record %d of %d truncated", i+1, count)
		}
		e := &entry{
			creatorVersion: binary.LittleEndian.Uint16(buf[4:]),
			readerVersion:  binary.LittleEndian.Uint16(buf[6:]),
			flags:          binary.LittleEndian.Uint16(buf[8:]),
			method:         binary.LittleEndian.Uint16(buf[10:]),
			modTime:        binary.LittleEndian.Uint16(buf[12:]),
			modDate:        binary.LittleEndian.Uint16(buf[14:]),
			crc:            binary.LittleEndian.Uint32(buf[16:]),
			csize:          uint64(binary.LittleEndian.Uint32(buf[20:])),
			usize:          uint64(binary.LittleEndian.Uint32(buf[24:])),
			external:       binary.LittleEndian.Uint32(buf[38:]),
			offset:         int64(binary.LittleEndian.Uint32(buf[42:])),
			name:           string(buf[centralLen : centralLen+nameLen]),
		}
		diskStart := binary.LittleEndian.Uint16(buf[34:])
		extra := buf[centralLen+nameLen : centralLen+nameLen+extraLen]
		buf = buf[recLen:]
		if e.csize == 0xffffffff || e.usize == 0xffffffff || e.offset == 0xffffffff || diskStart == 0xffff {
			return nil, fail(CheckZip64, e.name, ErrMalformedArchive, "ZIP64 sizes or offset")
		}
		if diskStart != 0 {
			return nil, fail(CheckEndRecord, e.name, ErrMalformedArchive, "entry on disk %d", diskStart)
		}
		if commentLen != 0 {
			return nil, fail(CheckComment, e.name, ErrMalformedArchive, "entry comment of %d bytes", commentLen)
		}
		if err := checkExtra(e.name, extra); err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	if len(buf) != 0 {
		return nil, fail(CheckCentralDirectory, "", ErrMalformedArchive, "%d bytes after the %d records the end record counts", len(buf), count)
	}
	return entries, nil
}

// checkExtra requires extra to be well-formed (id, size, data)* records of
// allowed kinds.
func checkExtra(name string, extra []byte) error {
	for len(extra) > 0 {
		if len(extra) < 4 {
			return fail(CheckExtraField, name, ErrMalformedArchive, "truncated extra field")
		}
		id := binary.LittleEndian.Uint16(extra)
		n := int(binary.LittleEndian.Uint16(extra[2:]))
		if len(extra) < 4+n {
			return fail(CheckExtraField, name, ErrMalformedArchive, "extra field 0x%04x overruns", id)
		}
		if id == extraZip64 {
			return fail(CheckZip64, name, ErrMalformedArchive, "ZIP64 extra field")
		}
		if !allowedExtra[id] {
			return fail(CheckExtraField, name, ErrMalformedArchive, "extra field 0x%04x not accepted", id)
		}
		extra = extra[4+n:]
	}
	return nil
}

// checkEntryHeader applies the per-entry rules that need only the central
// directory record.
func checkEntryHeader(e *entry, lim *limits) error {
	if strings.HasSuffix(e.name, "/") {
		return fail(CheckDirectory, e.name, ErrMalformedArchive, "directory entries are not accepted")
	}
	if err := checkPath(e.name); err != nil {
		return fail(CheckPath, e.name, ErrMalformedArchive, "%v", err)
	}
	if err := checkMode(e); err != nil {
		return fail(CheckMode, e.name, ErrMalformedArchive, "%v", err)
	}
	if e.flags&(flagEncrypted|flagStrongEncrypt|flagMaskedHeaders) != 0 {
		return fail(CheckEncryption, e.name, ErrMalformedArchive, "encrypted entry (flags 0x%04x)", e.flags)
	}
	if e.flags&flagDataDescriptor != 0 {
		return fail(CheckDataDescriptor, e.name, ErrMalformedArchive, "data descriptor (flag bit 3): local sizes and CRC would be unchecked")
	}
	if e.flags&^flagsAllowed != 0 {
		return fail(CheckFlags, e.name, ErrMalformedArchive, "unknown flags 0x%04x", e.flags&^flagsAllowed)
	}
	if e.method != methodStore && e.method != methodDeflate {
		return fail(CheckMethod, e.name, ErrMalformedArchive, "compression method %d (want 0 store or 8 deflate)", e.method)
	}
	if e.method == methodStore && e.csize != e.usize {
		return fail(CheckSize, e.name, ErrMalformedArchive, "stored entry with compressed size %d != size %d", e.csize, e.usize)
	}
	if e.usize > uint64(lim.entry) {
		return fail(CheckEntrySize, e.name, ErrTooLarge, "%d bytes, cap %d", e.usize, lim.entry)
	}
	if c := metadataCap(e.name); c > 0 && e.usize > uint64(c) {
		return fail(CheckMetadataSize, e.name, ErrTooLarge, "%d bytes, cap %d", e.usize, c)
	}
	if e.usize > RatioAllowance && e.usize > e.csize*MaxCompressionRatio {
		return fail(CheckCompressionRatio, e.name, ErrTooLarge, "%d bytes from %d compressed, over %d:1", e.usize, e.csize, MaxCompressionRatio)
	}
	return nil
}

// checkMode accepts regular files only. Unix modes sit in the high 16 bits
// of the external attributes (any writer may set them, and extractors on
// Unix honour them whatever the "made by" host); MS-DOS attributes in the
// low byte.
func checkMode(e *entry) error {
	const (
		typeMask   = 0o170000
		typeFile   = 0o100000
		specialMsk = 0o7000 // setuid, setgid, sticky
		dosDir     = 0x10
		dosVolume  = 0x08
	)
	if mode := e.external >> 16; mode != 0 {
		switch t := mode & typeMask; {
		case t == 0o120000:
			return fmt.Errorf("symbolic link (mode %o)", mode)
		case t == 0o040000:
			return fmt.Errorf("directory (mode %o)", mode)
		case t != typeFile && t != 0: // 0: permissions only, type unstated — a file
			return fmt.Errorf("not a regular file (mode %o)", mode)
		case mode&specialMsk != 0:
			return fmt.Errorf("setuid, setgid or sticky bit (mode %o)", mode)
		}
	}
	if e.external&(dosDir|dosVolume) != 0 {
		return fmt.Errorf("MS-DOS directory or volume attribute 0x%02x", e.external&0xff)
	}
	return nil
}

// metadataCap is the size cap of a metadata entry, or 0 for other entries.
func metadataCap(name string) int64 {
	switch name {
	case SignaturePath:
		return MaxSignatureBytes
	case ManifestPath:
		return MaxManifestBytes
	case SBOMPath, ProvenancePath:
		return MaxDocumentBytes
	}
	return 0
}

// checkPath accepts only portable relative paths: printable ASCII from a
// conservative set, '/'-separated, no empty, "." or ".." segments, no
// segment a Windows device name or ending in '.' or ' ' (which Windows
// silently strips, making two names one file).
func checkPath(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty name")
	case len(name) > maxNameBytes:
		return fmt.Errorf("name longer than %d bytes", maxNameBytes)
	case name[0] == '/':
		return fmt.Errorf("absolute path")
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '\\':
			return fmt.Errorf("backslash at byte %d", i)
		case c == ':':
			return fmt.Errorf("colon at byte %d", i)
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("control character 0x%02x at byte %d", c, i)
		case c >= 0x80:
			return fmt.Errorf("non-ASCII byte 0x%02x at byte %d", c, i)
		case !pathCharOK(c):
			return fmt.Errorf("character %q at byte %d", c, i)
		}
	}
	for seg := range strings.SplitSeq(name, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("empty path segment")
		case seg == "." || seg == "..":
			return fmt.Errorf("%q segment", seg)
		case seg[0] == ' ' || seg[len(seg)-1] == ' ' || seg[len(seg)-1] == '.':
			return fmt.Errorf("segment %q starts or ends with a space or ends with a dot", seg)
		case isWindowsDevice(seg):
			return fmt.Errorf("segment %q is a Windows device name", seg)
		}
	}
	return nil
}

// pathCharOK is golang.org/x/mod/module's set of portable file name
// characters, plus '/'.
func pathCharOK(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	return strings.IndexByte("/!#$%&()+,-.=@[]^_{}~ ", c) >= 0
}

func isWindowsDevice(seg string) bool {
	stem, _, _ := strings.Cut(seg, ".")
	stem = strings.ToUpper(stem)
	switch stem {
	case "CON", "PRN", "AUX", "NUL":
		return true
	}
	if len(stem) == 4 && (strings.HasPrefix(stem, "COM") || strings.HasPrefix(stem, "LPT")) && stem[3] >= '1' && stem[3] <= '9' {
		return true
	}
	return false
}

// checkEntrySet applies the rules about the set of names: no duplicates,
// no two names one file on a case-insensitive file system (nor a file that
// is also another's directory), exactly the artifact layout, and the total
// size cap.
func checkEntrySet(entries []*entry, lim *limits) error {
	seen := make(map[string]bool, len(entries))
	folded := make(map[string]string, len(entries))
	var total uint64
	for _, e := range entries {
		if seen[e.name] {
			return fail(CheckDuplicate, e.name, ErrMalformedArchive, "name appears twice")
		}
		seen[e.name] = true
		low := strings.ToLower(e.name)
		if other, ok := folded[low]; ok {
			return fail(CheckCaseCollision, e.name, ErrMalformedArchive, "same file as %q on a case-insensitive file system", other)
		}
		folded[low] = e.name
		total += e.usize
	}
	// A file whose name is a directory prefix of another's cannot be
	// extracted alongside it.
	for _, e := range entries {
		low := strings.ToLower(e.name)
		for i := strings.IndexByte(low, '/'); i >= 0; i = next(low, i) {
			if other, ok := folded[low[:i]]; ok {
				return fail(CheckCaseCollision, e.name, ErrMalformedArchive, "%q is both a file and this entry's directory", other)
			}
		}
	}
	modules := 0
	for _, e := range entries {
		switch {
		case isMetadataPath(e.name):
		case isModulePath(e.name):
			modules++
		case strings.HasPrefix(e.name, AssetsDir) && len(e.name) > len(AssetsDir):
		default:
			return fail(CheckEntrySet, e.name, ErrMalformedArchive, "not an artifact entry (want skill.toml, signature.json, sbom.cdx.json, provenance.json, modules/NAME.wasm or assets/…)")
		}
	}
	for _, required := range []string{ManifestPath, SBOMPath, ProvenancePath, SignaturePath} {
		if !seen[required] {
			class := ErrMalformedArchive
			if required == SignaturePath {
				return &CheckError{Check: CheckEntrySet, Entry: required, Err: fmt.Errorf("%w: %w: artifact is unsigned", ErrMalformedArchive, ErrBadSignature)}
			}
			return fail(CheckEntrySet, required, class, "missing")
		}
	}
	if modules == 0 {
		return fail(CheckEntrySet, ModulesDir+"*.wasm", ErrMalformedArchive, "no module")
	}
	if total > uint64(lim.total) {
		return fail(CheckTotalSize, "", ErrTooLarge, "%d bytes uncompressed, cap %d", total, lim.total)
	}
	return nil
}

func next(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '/')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// isMetadataPath reports whether name is one of the four metadata entries.
func isMetadataPath(name string) bool {
	return name == ManifestPath || name == SignaturePath || name == SBOMPath || name == ProvenancePath
}

// isModulePath reports whether name is modules/NAME.wasm, NAME one segment.
func isModulePath(name string) bool {
	stem, ok := strings.CutPrefix(name, ModulesDir)
	return ok && strings.HasSuffix(stem, ".wasm") && len(stem) > len(".wasm") && !strings.Contains(stem, "/")
}

// readLocal reads each entry's local header, checks that the local records
// tile [0, cdOffset) exactly — nothing before the first, between two, or
// overlapping — and that every local header agrees with its central record.
// The layout is checked from the fixed-size headers before any name or
// extra field is read, so what is read next is bounded by the archive size.
func readLocal(r io.ReaderAt, entries []*entry, cdOffset int64) error {
	hdrs := make(map[*entry]*[localLen]byte, len(entries))
	for _, e := range entries {
		h := new([localLen]byte)
		if e.offset+localLen > cdOffset {
			return fail(CheckLocalHeader, e.name, ErrMalformedArchive, "local header at %d runs into the central directory at %d", e.offset, cdOffset)
		}
		if err := readAt(r, h[:], e.offset); err != nil {
			return fmt.Errorf("artifact: read local header of %q: %w", e.name, err)
		}
		if binary.LittleEndian.Uint32(h[:]) != sigLocal {
			return fail(CheckLocalHeader, e.name, ErrMalformedArchive, "no local header at offset %d", e.offset)
		}
		nameLen := int64(binary.LittleEndian.Uint16(h[26:]))
		extraLen := int64(binary.LittleEndian.Uint16(h[28:]))
		e.dataOffset = e.offset + localLen + nameLen + extraLen
		if e.end() > cdOffset {
			return fail(CheckOverlap, e.name, ErrMalformedArchive, "data [%d, %d) runs into the central directory at %d", e.dataOffset, e.end(), cdOffset)
		}
		hdrs[e] = h
	}
	byOffset := slices.Clone(entries)
	slices.SortFunc(byOffset, func(a, b *entry) int { return cmp.Compare(a.offset, b.offset) })
	pos := int64(0)
	for _, e := range byOffset {
		switch {
		case e.offset < pos:
			return fail(CheckOverlap, e.name, ErrMalformedArchive, "local record at %d overlaps the previous one, which ends at %d", e.offset, pos)
		case e.offset > pos && pos == 0:
			return fail(CheckLeadingData, e.name, ErrMalformedArchive, "%d bytes before the first entry", e.offset)
		case e.offset > pos:
			return fail(CheckGap, e.name, ErrMalformedArchive, "%d unaccounted bytes before this entry", e.offset-pos)
		}
		pos = e.end()
	}
	if pos != cdOffset {
		return fail(CheckGap, "", ErrMalformedArchive, "%d unaccounted bytes before the central directory", cdOffset-pos)
	}
	for _, e := range entries {
		h := hdrs[e][:]
		var diffs []string
		differ := func(what string, local, central uint64) {
			if local != central {
				diffs = append(diffs, fmt.Sprintf("%s %#x != %#x", what, local, central))
			}
		}
		differ("version needed", uint64(binary.LittleEndian.Uint16(h[4:])), uint64(e.readerVersion))
		differ("flags", uint64(binary.LittleEndian.Uint16(h[6:])), uint64(e.flags))
		differ("method", uint64(binary.LittleEndian.Uint16(h[8:])), uint64(e.method))
		differ("time", uint64(binary.LittleEndian.Uint16(h[10:])), uint64(e.modTime))
		differ("date", uint64(binary.LittleEndian.Uint16(h[12:])), uint64(e.modDate))
		differ("crc", uint64(binary.LittleEndian.Uint32(h[14:])), uint64(e.crc))
		differ("compressed size", uint64(binary.LittleEndian.Uint32(h[18:])), e.csize)
		differ("size", uint64(binary.LittleEndian.Uint32(h[22:])), e.usize)
		nameLen := int64(binary.LittleEndian.Uint16(h[26:]))
		varLen := make([]byte, e.dataOffset-e.offset-localLen)
		if err := readAt(r, varLen, e.offset+localLen); err != nil {
			return fmt.Errorf("artifact: read local header of %q: %w", e.name, err)
		}
		if name := varLen[:nameLen]; string(name) != e.name {
			diffs = append(diffs, fmt.Sprintf("name %q", name))
		}
		if len(diffs) > 0 {
			return fail(CheckLocalHeader, e.name, ErrMalformedArchive, "local header disagrees with the central directory: %s", strings.Join(diffs, ", "))
		}
		if err := checkExtra(e.name, varLen[nameLen:]); err != nil {
			return err
		}
	}
	return nil
}
