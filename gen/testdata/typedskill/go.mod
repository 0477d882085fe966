module example.com/typedskill

go 1.26.0

require github.com/palyra/palyra-go v0.0.0-00010101000000-000000000000

replace github.com/palyra/palyra-go => ../../..
