package runtime

// Exports reports whether the module exports name as a function a plugin
// can call (no parameters, at most one result).
func (m *Module) Exports(name string) bool {
	_, ok := m.exports[name]
	return ok
}
