package sdk

// Vars are the host's small key-value store for a plugin (Extism's
// var_get and var_set): values outlive the call that sets them, so a
// tool can keep a counter or a cache between calls. They are not
// persistent storage: a host may start a plugin with no vars, and the
// Palyra host keeps them only while the plugin is loaded. In the Palyra
// host all the instances of a plugin share one store; in other Extism
// hosts each instance has its own. The host bounds the store's total
// size.

// GetVar returns a copy of the value of the var name and whether it is
// set. As in Extism, a var set to an empty value is not set, and neither
// is the empty name.
func GetVar(name string) ([]byte, bool) {
	if name == "" {
		return nil, false
	}
	return varGet(name)
}

// SetVar sets the var name to a copy of value; an empty value deletes it,
// as in Extism. The host aborts the call (a trap, which the tool cannot
// handle) when the store would grow past its limit or the host disables
// vars. SetVar panics if name is empty.
func SetVar(name string, value []byte) {
	if name == "" {
		panic("sdk: SetVar with an empty name")
	}
	varSet(name, value)
}

// DeleteVar deletes the var name; deleting a var that is not set does
// nothing.
func DeleteVar(name string) {
	if name == "" {
		return
	}
	varSet(name, nil)
}
