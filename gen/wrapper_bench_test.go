package gen

import "testing"

// BenchmarkWrapperCall is one Extism call of each of typedskill's
// generated wrappers (sdk/tool's Run in the guest): strict decoding with
// a required-field walk (plan_trip), null filling (inventory), and the
// smallest tool (shout). It measures what the generated layer costs per
// call, to compare one wrapper design with another.
func BenchmarkWrapperCall(b *testing.B) {
	p := typedSkillPlugin(b)
	place := `{"name":"A","lat":1,"lon":2}`
	plan := `{"created_by":"ada","from":` + place + `,"to":` + place + `,"modes":["walk"],"depart":"2026-01-02T03:04:05Z",` +
		`"window":[1,2],"count":"3","Untagged":false,"stops":[{"place":` + place + `,"sub":[{"place":` + place + `}]}]}`
	for _, bb := range []struct{ name, tool, input string }{
		{"shout", "shout", `{"text":"hello"}`},
		{"inventory", "inventory", `{}`},
		{"plan_trip", "plan_trip", plan},
	} {
		b.Run(bb.name, func(b *testing.B) {
			input := []byte(bb.input)
			if rc, out, err := p.Call(bb.tool, input); rc != 0 || err != nil {
				b.Fatalf("rc %d, err %v, out %s", rc, err, out)
			}
			b.ReportAllocs()
			for b.Loop() {
				if rc, _, err := p.Call(bb.tool, input); rc != 0 || err != nil {
					b.Fatal(rc, err)
				}
			}
		})
	}
}
