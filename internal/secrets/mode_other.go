//go:build !unix

package secrets

// checkModes: elsewhere (Windows) the permission bits Go reports are
// synthesized from the read-only attribute and say nothing about who may
// read a file, so they are not checked; protect the directory with ACLs.
const checkModes = false

const oNoFollow = 0

func isSymlinkErr(error) bool { return false }

// flockAvailable: there is no flock(2) here; Store.Lock serializes the
// users of one *Store only.
const flockAvailable = false
