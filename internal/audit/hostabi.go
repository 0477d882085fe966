package audit

import (
	"strings"

	"github.com/palyra/palyra-go/internal/guestabi"
)

// The import namespaces palyra's runtime provides. A module importing
// anything else cannot be instantiated, and is a host surface nobody
// reviewed.
const (
	// nsExtismEnv is the Extism kernel ABI: memory blocks, input, output,
	// errors, config, vars, logging and HTTP.
	nsExtismEnv = "extism:host/env"
	// nsExtismUser is where an Extism host puts its own functions; palyra
	// puts the secrets function there, so Extism PDKs can declare it as any
	// other user host function.
	nsExtismUser = "extism:host/user"
	// nsPalyraEnv is the bulk-copy fast path of palyra's own SDK. Its
	// function set belongs to the runtime and is not pinned here.
	nsPalyraEnv = "palyra:host/env"
	// nsWASIP1 is WASI preview 1, implemented by wazero.
	nsWASIP1 = "wasi_snapshot_preview1"
	// nsPalyraCaps is Palyra's native plugin ABI: capability handles
	// only. A module importing from it gets nothing else (no WASI, no
	// Extism kernel), as in Palyra.
	nsPalyraCaps = guestabi.CapabilitiesModule
)

// Host functions that exercise a capability the manifest must request.
const (
	// secretGetFunc, in extism:host/user, reads one secret the manifest's
	// capabilities.secrets grants.
	secretGetFunc = "palyra_secret_get"
	// httpRequestFunc, in extism:host/env, sends a request the manifest's
	// http_egress_allowlist must allow.
	httpRequestFunc = "http_request"
)

// knownImport reports whether the runtime provides the function name in
// namespace ns. The Extism list is the kernel and host functions of the
// reference implementation (extism/go-sdk v1.7); the WASI list is preview
// 1's 46 functions.
func knownImport(ns, name string) bool {
	switch ns {
	case nsExtismEnv:
		switch name {
		case "alloc", "free", "length", "length_unsafe",
			"load_u8", "load_u64", "store_u8", "store_u64",
			"input_set", "input_length", "input_offset", "input_load_u8", "input_load_u64",
			"output_set", "output_length", "output_offset",
			"error_set", "error_get", "reset", "memory_bytes",
			"config_get", "var_get", "var_set",
			"http_request", "http_status_code", "http_headers",
			"get_log_level", "log_trace", "log_debug", "log_info", "log_warn", "log_error":
			return true
		}
	case nsExtismUser:
		return name == secretGetFunc
	case nsPalyraEnv:
		return true
	case nsPalyraCaps:
		_, ok := guestabi.CapabilityFunction(name)
		return ok
	case nsWASIP1:
		switch name {
		case "args_get", "args_sizes_get", "environ_get", "environ_sizes_get",
			"clock_res_get", "clock_time_get",
			"fd_advise", "fd_allocate", "fd_close", "fd_datasync",
			"fd_fdstat_get", "fd_fdstat_set_flags", "fd_fdstat_set_rights",
			"fd_filestat_get", "fd_filestat_set_size", "fd_filestat_set_times",
			"fd_pread", "fd_prestat_get", "fd_prestat_dir_name", "fd_pwrite",
			"fd_read", "fd_readdir", "fd_renumber", "fd_seek", "fd_sync", "fd_tell", "fd_write",
			"path_create_directory", "path_filestat_get", "path_filestat_set_times",
			"path_link", "path_open", "path_readlink", "path_remove_directory",
			"path_rename", "path_symlink", "path_unlink_file",
			"poll_oneoff", "proc_exit", "proc_raise", "sched_yield", "random_get",
			"sock_accept", "sock_recv", "sock_send", "sock_shutdown":
			return true
		}
	}
	return false
}

// knownNamespace reports whether ns is one of the runtime's namespaces.
func knownNamespace(ns string) bool {
	switch ns {
	case nsExtismEnv, nsExtismUser, nsPalyraEnv, nsWASIP1, nsPalyraCaps:
		return true
	}
	return false
}

// isWASIPathFunc reports whether a WASI preview 1 function names a file by
// path. Only these reach the filesystem through a preopen; fd_prestat_get
// and fd_prestat_dir_name merely list the preopens, and Go's syscall
// package imports them in every program that links package os, so they say
// nothing about what a module does.
func isWASIPathFunc(ns, name string) bool {
	return ns == nsWASIP1 && strings.HasPrefix(name, "path_")
}

// isComponentFilesystem reports whether ns is a component-model
// wasi:filesystem interface (any version). Palyra matches the namespace
// trimmed and lowercased, so cosmetic variants cannot slip past.
func isComponentFilesystem(ns string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(ns)), "wasi:filesystem")
}
