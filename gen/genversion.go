package gen

import (
	"runtime/debug"
)

// GenName is the name palyra-gen records for itself in SBOMs (as
// metadata.tools) and provenance (as runDetails.builder.version).
const GenName = "palyra-gen"

// GenVersion is the version of palyra-go this code was built from, as the
// SBOM and provenance record it: the palyra-go module version from the
// binary's build info, or "(devel)" for a build of a checkout, followed by
// "+REVISION" (and "-dirty" for uncommitted changes) when the go command
// stamped VCS information. It depends only on the binary, so packages
// made by the same binary from the same inputs stay byte-identical.
func GenVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	return versionFromBuildInfo(bi)
}

// versionFromBuildInfo is GenVersion for bi.
func versionFromBuildInfo(bi *debug.BuildInfo) string {
	version := ""
	if bi.Main.Path == PalyraModule {
		version = bi.Main.Version
	} else {
		// palyra-go is a dependency (gen used as a library or a tool).
		for _, d := range bi.Deps {
			if d.Path == PalyraModule {
				version = d.Version
				if d.Replace != nil && d.Replace.Version != "" {
					version = d.Replace.Version
				}
				break
			}
		}
	}
	if version == "" || version == "(devel)" {
		version = "(devel)"
		var rev string
		var dirty bool
		if bi.Main.Path == PalyraModule {
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					dirty = s.Value == "true"
				}
			}
		}
		if rev != "" {
			version += "+" + rev
			if dirty {
				version += "-dirty"
			}
		}
	}
	return version
}
