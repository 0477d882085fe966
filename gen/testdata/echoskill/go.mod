module example.com/echoskill

go 1.26

require (
	example.com/greet v0.0.0
	github.com/gobwas/glob v0.2.3
)

replace example.com/greet => ./greet
