// Command broken does not compile; testguest's tests check that the
// compiler's message reaches the test.
package main

func main() { undefinedOnPurpose() }
