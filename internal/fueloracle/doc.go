// Package fueloracle measures fuel as wasmtime counts it.
package fueloracle
