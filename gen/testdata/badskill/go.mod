module example.com/badskill

go 1.26.0
