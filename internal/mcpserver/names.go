package mcpserver

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

// MaxToolNameLen is the longest tool name ToolName returns. MCP allows
// 128 characters, but clients hand tool names to model APIs that take at
// most 64 (and only [A-Za-z0-9_-]), so the names stay within both.
const MaxToolNameLen = 64

// hashLen is the length of the hash that ends a long or escaped name:
// 16 base32 characters, 80 bits of SHA-256.
const hashLen = 16

var hashEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ToolName maps a skill id and one of its tool names to the MCP tool name
// palyra mcp lists it under. The names use only [A-Za-z0-9_-] and at most
// MaxToolNameLen characters, and two different (skill id, tool name)
// pairs never share one:
//
//   - plain form, "<skill>__<tool>": when the skill id has no '_', the
//     tool name only [A-Za-z0-9_-], and the result fits. <skill> is the
//     skill id with each '.' written '_' (a skill id is dot-separated
//     segments of [a-z0-9_-], so it has no "__" and no '_' at either end
//     once written so, and its first "__" splits a plain name back into
//     the pair). Example: palyra.echo, echo → palyra_echo__echo.
//   - hashed form, "<readable>_<hash>": every other pair. <hash> is 16
//     characters of the unpadded lowercase base32 of
//     SHA-256(skill id, NUL, tool name); <readable> is "<skill>_<tool>"
//     with each run of characters outside [A-Za-z0-9-] written as one '_',
//     cut to fit, never starting or ending with '_'. A hashed name never
//     holds "__", so it is never a plain one, and two hashed names are
//     equal only if 80 bits of SHA-256 collide (the server also refuses
//     to list two tools under one name).
func ToolName(skillID, tool string) string {
	if !strings.Contains(skillID, "_") && plainTool(tool) {
		if name := strings.ReplaceAll(skillID, ".", "_") + "__" + tool; len(name) <= MaxToolNameLen {
			return name
		}
	}
	sum := sha256.Sum256([]byte(skillID + "\x00" + tool))
	hash := hashEncoding.EncodeToString(sum[:])[:hashLen]
	readable := readablePart(skillID + "." + tool)
	if len(readable) > MaxToolNameLen-hashLen-1 {
		readable = strings.TrimRight(readable[:MaxToolNameLen-hashLen-1], "_")
	}
	if readable == "" {
		return hash
	}
	return readable + "_" + hash
}

// plainTool reports whether a tool name can stand in a name as it is.
func plainTool(tool string) bool {
	if tool == "" {
		return false
	}
	for i := 0; i < len(tool); i++ {
		if !nameByte(tool[i]) && tool[i] != '_' {
			return false
		}
	}
	return true
}

// nameByte reports whether c may appear in a name other than as '_'.
func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
}

// readablePart writes s with each run of bytes outside [A-Za-z0-9-] as
// one '_', and none at either end.
func readablePart(s string) string {
	var b strings.Builder
	gap := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !nameByte(c) {
			gap = true
			continue
		}
		if gap && b.Len() > 0 {
			b.WriteByte('_')
		}
		gap = false
		b.WriteByte(c)
	}
	return b.String()
}

// validToolName reports whether name keeps the rules ToolName promises.
func validToolName(name string) bool {
	if name == "" || len(name) > MaxToolNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) && name[i] != '_' {
			return false
		}
	}
	return true
}
