// Package templates holds palyra-gen's scaffolding templates, embedded in
// the binary so that `palyra-gen new skill` works without a checkout.
//
// Each skill template is a directory of text/template files under skill/:
// skill/common holds the files every template shares (go.mod, gen.go,
// skill.toml, README.md, .gitignore) and skill/NAME the ones that make the
// template what it is (main.go with its tools, main_test.go). A file in
// skill/NAME replaces the common file of the same name. Files end in .tmpl
// so that the Go tool never compiles them; Files strips the suffix.
//
// This package only stores and lists the templates: package gen renders
// them (gen.Scaffold), and documents the data they are executed with.
package templates
