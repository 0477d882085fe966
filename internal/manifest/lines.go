package manifest

import (
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// keyLines maps the dotted path of every key, table and list element in a
// TOML document (in the form keyPath/indexPath build) to the line that
// defines it. go-toml's generic decoder keeps no positions, so this second,
// AST-level pass recovers them for error messages. It assumes data already
// decoded without error; on a parser error it returns what it has.
func keyLines(data []byte) map[string]int {
	lines := make(map[string]int)
	// explicit records paths that own a [header], so that a header written
	// after one of its sub-tables still gets its own line.
	explicit := make(map[string]bool)
	// arrays counts the elements of each array of tables, keyed by its path.
	arrays := make(map[string]int)

	var p unstable.Parser
	p.Reset(data)
	lineOf := func(n *unstable.Node) int {
		if n == nil || n.Raw.Length == 0 {
			return 0
		}
		return p.Shape(n.Raw).Start.Line
	}
	record := func(path string, line int) {
		if _, ok := lines[path]; !ok && line > 0 {
			lines[path] = line
		}
	}
	var recordValue func(path string, n *unstable.Node, line int)
	recordValue = func(path string, n *unstable.Node, line int) {
		switch n.Kind {
		case unstable.InlineTable:
			it := n.Children()
			for it.Next() {
				kv := it.Node()
				if kv.Kind != unstable.KeyValue {
					continue
				}
				sub, kline := path, line
				keys := kv.Key()
				for keys.Next() {
					k := keys.Node()
					if l := lineOf(k); l > 0 {
						kline = l
					}
					sub = keyPath(sub, string(k.Data))
					record(sub, kline)
				}
				recordValue(sub, kv.Value(), kline)
			}
		case unstable.Array:
			it := n.Children()
			i := 0
			for it.Next() {
				el := it.Node()
				if el.Kind == unstable.Comment {
					continue
				}
				eline := lineOf(el)
				if eline == 0 {
					eline = line
				}
				sub := indexPath(path, i)
				record(sub, eline)
				recordValue(sub, el, eline)
				i++
			}
		}
	}

	current := ""
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			path := ""
			line := 0
			keys := e.Key()
			for keys.Next() {
				k := keys.Node()
				line = lineOf(k)
				path = keyPath(path, string(k.Data))
				if n, ok := arrays[path]; ok && !(keys.IsLast() && e.Kind == unstable.ArrayTable) {
					path = indexPath(path, n-1)
				}
				record(path, line)
			}
			if e.Kind == unstable.ArrayTable {
				n := arrays[path]
				arrays[path] = n + 1
				path = indexPath(path, n)
			}
			if !explicit[path] {
				explicit[path] = true
				lines[path] = line
			}
			current = path
		case unstable.KeyValue:
			path, line := current, 0
			keys := e.Key()
			for keys.Next() {
				k := keys.Node()
				line = lineOf(k)
				path = keyPath(path, string(k.Data))
				record(path, line)
			}
			recordValue(path, e.Value(), line)
		}
	}
	return lines
}

// lineFor returns the line of path, or of its nearest ancestor that has one.
func lineFor(lines map[string]int, path string) int {
	for path != "" {
		if l, ok := lines[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return 0
}

// parentPath strips the last ".key" or "[i]" from a path. Quoted keys may
// contain '.', '[' or ']', so it scans from the end honouring quotes.
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
		return ""
	}
	if strings.HasSuffix(path, `"`) {
		// Find the opening quote of the final quoted key.
		for i := len(path) - 2; i >= 0; i-- {
			if path[i] == '"' && (i == 0 || path[i-1] != '\\') {
				if i == 0 {
					return ""
				}
				return strings.TrimSuffix(path[:i], ".")
			}
		}
		return ""
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}
