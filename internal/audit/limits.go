package audit

import "fmt"

// codeLimit is one compile limit: its check, the policy field's JSON name,
// the limit, and the module's value — with the function it is in, for the
// per-function limits.
type codeLimit struct {
	id, name string
	limit    uint64
	value    uint64
	perFunc  bool
	index    uint32
	what     string // what the value is, with a %d for it
}

// codeLimits lists the compile limits of p against sh, in report order.
func (p Policy) codeLimits(sh *codeShape) []codeLimit {
	return []codeLimit{
		{checkFunctionBodyLimit, "max_function_body_bytes", uint64(p.MaxFunctionBodyBytes), sh.body.value, true, sh.body.index, "body is %d bytes"},
		{checkControlDepthLimit, "max_control_depth", uint64(p.MaxControlDepth), sh.depth.value, true, sh.depth.index, "nests control instructions %d deep"},
		{checkControlNestingLimit, "max_control_nesting_total", uint64(p.MaxControlNestingTotal), sh.nestingSum, false, 0, "control instructions' nesting depths sum to %d"},
		{checkLoopNestingLimit, "max_loop_nesting_total", uint64(p.MaxLoopNestingTotal), sh.loopSum, false, 0, "loops' nesting depths sum to %d"},
		{checkFunctionLocalsLimit, "max_function_locals", uint64(p.MaxFunctionLocals), sh.locals.value, true, sh.locals.index, "declares %d locals"},
		{checkModuleLocalsLimit, "max_module_locals", uint64(p.MaxModuleLocals), sh.totalLocals, false, 0, "functions declare %d locals in all"},
		{checkBrTableLimit, "max_br_table_targets", uint64(p.MaxBrTableTargets), sh.brTable.value, true, sh.brTable.index, "has a br_table of %d targets"},
		{checkModuleBrTableLimit, "max_module_br_table_targets", uint64(p.MaxModuleBrTableTargets), sh.brTableSum, false, 0, "br_tables have %d targets in all"},
	}
}

// checkCode reports the compile limits of the module at path and returns
// whether all passed. A module over any of them is not compiled, not even
// to validate it: that is what the limits bound.
func (a *auditor) checkCode(path string, sh *codeShape) bool {
	ok := true
	for _, l := range a.p.codeLimits(sh) {
		details := map[string]any{"module_path": path, "value": l.value, l.name: l.limit}
		where := "module '" + path + "'"
		largest := ""
		if l.perFunc && l.value > 0 {
			details["function_index"] = l.index
			where += fmt.Sprintf(" function %d", l.index)
			largest = fmt.Sprintf(" (the largest, in function %d)", l.index)
		}
		if l.value > l.limit {
			a.fail(l.id, fmt.Sprintf("%s "+l.what+", above %s (%d)", where, l.value, l.name, l.limit), details)
			ok = false
			continue
		}
		a.pass(l.id, fmt.Sprintf("module '%s' is within %s: %d <= %d%s", path, l.name, l.value, l.limit, largest), details)
	}
	return ok
}
