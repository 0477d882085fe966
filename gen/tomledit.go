package gen

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/palyra/palyra-go/internal/manifest"
)

// The [[entrypoints.tools]] tables of skill.toml are rewritten in place:
// the document is parsed with go-toml's unstable parser, which gives byte
// ranges, and only the ranges of the tool tables are replaced, so the
// author's comments, layout and every other key survive byte for byte.

// toolSpan is the bytes of one [[entrypoints.tools]] table: from the start
// of its header line to the end of the line of its last key, sub-tables
// ([entrypoints.tools.risk]) included. Comments after its last key are not
// part of it, so they survive.
type toolSpan struct{ start, end int }

// tomlLayout is what spliceTools needs to know about a document.
type tomlLayout struct {
	tools []toolSpan
	// entrypointsEnd is the end of the [entrypoints] table's last line
	// (header or key), where tools go when there are none; -1 if the
	// document has no [entrypoints] header.
	entrypointsEnd int
}

func scanTOML(doc []byte) (*tomlLayout, error) {
	l := &tomlLayout{entrypointsEnd: -1}
	var p unstable.Parser
	p.Reset(doc)
	var cur *toolSpan
	var table []string // the current table's key
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			key, off := keyOf(e)
			table = key
			start := lineStart(doc, off)
			end := lineEnd(doc, off)
			isTools := len(key) >= 2 && key[0] == "entrypoints" && key[1] == "tools"
			switch {
			case isTools && len(key) == 2 && e.Kind == unstable.ArrayTable:
				l.tools = append(l.tools, toolSpan{start, end})
				cur = &l.tools[len(l.tools)-1]
			case isTools && cur != nil:
				cur.end = end // a sub-table of the current tool
			case isTools:
				return nil, tomlErrorf(doc, off, "[%s] is not inside an [[entrypoints.tools]] table", strings.Join(key, "."))
			default:
				cur = nil
			}
			if e.Kind == unstable.Table && len(key) == 1 && key[0] == "entrypoints" {
				l.entrypointsEnd = end
			}
		case unstable.KeyValue:
			key, off := keyOf(e)
			end := lineEnd(doc, int(e.Raw.Offset+e.Raw.Length))
			full := append(append([]string{}, table...), key...)
			if len(full) >= 2 && full[0] == "entrypoints" && full[1] == "tools" && cur == nil ||
				len(full) == 1 && full[0] == "entrypoints" {
				return nil, tomlErrorf(doc, off, "entrypoints.tools is written inline: write each tool as an [[entrypoints.tools]] table, which generate can update in place")
			}
			if cur != nil {
				cur.end = end
			}
			if len(table) == 1 && table[0] == "entrypoints" {
				l.entrypointsEnd = end
			}
		}
	}
	if err := p.Error(); err != nil {
		var perr *unstable.ParserError
		if errors.As(err, &perr) {
			return nil, tomlErrorf(doc, int(p.Range(perr.Highlight).Offset), "%s", perr.Message)
		}
		return nil, fmt.Errorf("skill.toml: %w", err)
	}
	return l, nil
}

// keyOf returns an expression's key parts and the offset of its first.
func keyOf(e *unstable.Node) ([]string, int) {
	var parts []string
	off := -1
	it := e.Key()
	for it.Next() {
		n := it.Node()
		if off < 0 {
			off = int(n.Raw.Offset)
		}
		parts = append(parts, string(n.Data))
	}
	return parts, off
}

func tomlErrorf(doc []byte, off int, format string, args ...any) error {
	line := 1 + bytes.Count(doc[:min(max(off, 0), len(doc))], []byte("\n"))
	return fmt.Errorf("skill.toml:%d: %s", line, fmt.Sprintf(format, args...))
}

func lineStart(doc []byte, off int) int {
	return bytes.LastIndexByte(doc[:off], '\n') + 1
}

// lineEnd returns the offset just past the newline ending the line that
// holds off, or len(doc).
func lineEnd(doc []byte, off int) int {
	if i := bytes.IndexByte(doc[off:], '\n'); i >= 0 {
		return off + i + 1
	}
	return len(doc)
}

// spliceTools returns doc with its [[entrypoints.tools]] tables replaced
// by tables: in place of the first, the others removed with the blank lines
// before them (so that running it again changes nothing). Without tool
// tables, tables go after the [entrypoints] table, or at the end.
func spliceTools(doc, tables []byte) ([]byte, error) {
	l, err := scanTOML(doc)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if len(l.tools) == 0 {
		at := l.entrypointsEnd
		if at < 0 {
			at = len(doc)
		}
		out.Write(doc[:at])
		if at > 0 && doc[at-1] != '\n' {
			out.WriteByte('\n')
		}
		if l.entrypointsEnd < 0 && at > 0 {
			out.WriteByte('\n')
		}
		out.Write(tables)
		out.Write(doc[at:])
		return out.Bytes(), nil
	}
	out.Write(doc[:l.tools[0].start])
	out.Write(tables)
	for i := 1; i < len(l.tools); i++ {
		gap := doc[l.tools[i-1].end:l.tools[i].start]
		if len(bytes.TrimSpace(gap)) > 0 {
			out.Write(gap)
		}
	}
	last := doc[l.tools[len(l.tools)-1].end:]
	if len(tables) > 0 && tables[len(tables)-1] != '\n' {
		out.WriteByte('\n')
	}
	out.Write(last)
	return out.Bytes(), nil
}

// renderToolTables writes tools as [[entrypoints.tools]] tables, blank
// line between them. Schemas are inline tables with sorted keys: TOML 1.0
// inline tables are one line each.
func renderToolTables(tools []manifest.Tool) ([]byte, error) {
	var b bytes.Buffer
	for i, t := range tools {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("[[entrypoints.tools]]\n")
		fmt.Fprintf(&b, "id = %s\n", tomlString(t.ID))
		fmt.Fprintf(&b, "name = %s\n", tomlString(t.Name))
		fmt.Fprintf(&b, "description = %s\n", tomlString(t.Description))
		for _, s := range []struct {
			key string
			val map[string]any
		}{{"input_schema", t.InputSchema}, {"output_schema", t.OutputSchema}} {
			b.WriteString(s.key + " = ")
			if err := writeTOMLValue(&b, s.val); err != nil {
				return nil, fmt.Errorf("tool %s: %s: %w", t.Name, s.key, err)
			}
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "risk = { default_sensitive = %t, requires_approval = %t }\n",
			t.Risk.DefaultSensitive, t.Risk.RequiresApproval)
	}
	return b.Bytes(), nil
}

func writeTOMLValue(b *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case string:
		b.WriteString(tomlString(v))
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case int:
		b.WriteString(strconv.Itoa(v))
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%v is not a JSON number", v)
		}
		s := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0" // else TOML reads an integer
		}
		b.WriteString(s)
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writeTOMLValue(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		if len(v) == 0 {
			b.WriteString("{}")
			return nil
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("{ ")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(tomlKey(k))
			b.WriteString(" = ")
			if err := writeTOMLValue(b, v[k]); err != nil {
				return err
			}
		}
		b.WriteString(" }")
	default:
		return fmt.Errorf("value %v of type %T has no TOML form", v, v)
	}
	return nil
}

// tomlKey writes k bare when TOML allows it, else as a basic string.
func tomlKey(k string) string {
	if k == "" {
		return `""`
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return tomlString(k)
		}
	}
	return k
}

// tomlString writes s as a TOML basic string. TOML's escapes are a subset
// of Go's (no \a, \v or \x), so strconv.Quote will not do.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
