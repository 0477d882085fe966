// Command typedskill is gen's test skill: its tools use every kind of Go
// type the schema generator supports, and the client tests round-trip
// values through them.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

func main() {}

// Mode is how a trip is travelled.
type Mode string

// The travel modes.
const (
	Walk  Mode = "walk"
	Train Mode = "train"
	Plane Mode = "plane"
)

// Priority orders stops.
type Priority int

// The priorities; the enum lists each value once.
const (
	Low    Priority = 1
	Normal Priority = 2
	High   Priority = 3
	Urgent Priority = 3 // an alias of High
)

// Place is a point on the map.
type Place struct {
	// Name of the place.
	Name string `json:"name"`
	// Lat is the latitude in degrees.
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"` // Lon is the longitude in degrees.
}

// Audit is embedded: its fields are flattened into the struct that embeds it.
type Audit struct {
	// CreatedBy names who asked.
	CreatedBy string `json:"created_by"`
	// Note is hidden by the embedding struct's own Note.
	Note string `json:"note"`
}

// Stop is one stop of a trip; stops nest.
type Stop struct {
	Place    Place    `json:"place"`
	Priority Priority `json:"priority,omitempty"`
	// Sub are stops within this stop.
	Sub []Stop `json:"sub,omitempty"`
}

// PlanTripInput is the input of plan_trip.
type PlanTripInput struct {
	Audit
	// Note is a free-form note.
	Note string `json:"note,omitempty"`
	// From is where the trip starts.
	From Place `json:"from"`
	// To is where it ends.
	To    Place  `json:"to"`
	Modes []Mode `json:"modes"`
	// Depart is when to leave (RFC 3339).
	Depart time.Time `json:"depart"`
	// Budget in cents, optional.
	Budget *int64 `json:"budget"`
	// Stops on the way.
	Stops []Stop            `json:"stops,omitempty"`
	Tags  map[string]string `json:"tags,omitempty"`
	// Attachment is raw bytes, base64 in JSON.
	Attachment []byte    `json:"attachment,omitempty"`
	Window     [2]uint16 `json:"window"`
	Ratio      float32   `json:"ratio,omitempty"`
	Count      uint8     `json:"count,string"`
	Extra      any       `json:"extra,omitempty"`
	Internal   string    `json:"-"`
	secret     string
	Untagged   bool
}

// PlanTripOutput is the result of plan_trip.
type PlanTripOutput struct {
	// Summary describes the plan.
	Summary  string          `json:"summary"`
	Legs     []Leg           `json:"legs"`
	Arrive   time.Time       `json:"arrive"`
	Scores   map[string]int  `json:"scores"`
	Echo     PlanTripInput   `json:"echo"`
	Warnings []string        `json:"warnings,omitempty"`
	Raw      json.RawMessage `json:"raw,omitempty"`
}

// Leg is one leg of a planned trip.
type Leg struct {
	From Place         `json:"from"`
	To   Place         `json:"to"`
	Mode Mode          `json:"mode"`
	Took time.Duration `json:"took_ns"`
}

// PlanTrip plans a trip from one place to another.
//
// It echoes its input back, so that a round trip shows every field
// survived.
//
//palyra:tool
func PlanTrip(ctx context.Context, in PlanTripInput) (PlanTripOutput, error) {
	if in.From.Name == "" || in.To.Name == "" {
		return PlanTripOutput{}, errors.New("from and to need names")
	}
	mode := Walk
	if len(in.Modes) > 0 {
		mode = in.Modes[0]
	}
	out := PlanTripOutput{
		Summary: fmt.Sprintf("%s to %s by %s", in.From.Name, in.To.Name, mode),
		Legs:    []Leg{{From: in.From, To: in.To, Mode: mode, Took: 90 * time.Minute}},
		Arrive:  in.Depart.Add(90 * time.Minute),
		Scores:  map[string]int{"comfort": len(in.Stops), "price": int(in.Window[1] - in.Window[0])},
		Echo:    in,
		Raw:     json.RawMessage(`{"ok":true}`),
	}
	if in.Budget == nil {
		out.Warnings = append(out.Warnings, "no budget")
	}
	return out, nil
}

// ShoutInput is the input of shout.
type ShoutInput struct {
	Text string `json:"text"`
}

// Shout upper-cases text. It takes no context.
//
//palyra:tool name=shout description="Upper-cases \"text\"."
func Shout(in ShoutInput) (string, error) {
	if in.Text == "" {
		return "", errors.New("nothing to shout")
	}
	return strings.ToUpper(in.Text) + "!", nil
}

// InventoryInput is the input of inventory.
type InventoryInput struct {
	// Fill fills every collection of the output; without it they are nil.
	Fill bool `json:"fill,omitempty"`
}

// Group is a named list of members.
type Group struct {
	Name    string   `json:"name"`
	Members []string `json:"members"`
}

// InventoryOutput holds every kind of collection Go may leave nil.
type InventoryOutput struct {
	Names    []string            `json:"names"`
	Counts   map[string]int      `json:"counts"`
	Blob     []byte              `json:"blob"`
	Groups   []Group             `json:"groups"`
	ByName   map[string][]string `json:"by_name"`
	Maybe    *[]string           `json:"maybe"`
	Skipped  []string            `json:"skipped,omitempty"`
	Anything any                 `json:"anything"`
	Raw      json.RawMessage     `json:"raw"`
	Note     string              `json:"note"`
}

// Inventory returns nil collections unless asked to fill them: the
// wrapper writes them as its output schema says, [] and {}, not null.
//
//palyra:tool
func Inventory(in InventoryInput) (InventoryOutput, error) {
	if !in.Fill {
		// Nested nils too: in a slice element and as a map value.
		return InventoryOutput{
			Groups: []Group{{Name: "empty"}},
			ByName: map[string][]string{"nobody": nil},
			Note:   "null stays a string",
		}, nil
	}
	return InventoryOutput{
		Names:  []string{"a"},
		Counts: map[string]int{"a": 1},
		Blob:   []byte("hi"),
		Groups: []Group{{Name: "g", Members: []string{"a"}}},
		ByName: map[string][]string{"a": {"g"}},
		Maybe:  &[]string{},
		Raw:    json.RawMessage(`[null]`),
	}, nil
}

// TagsInput is the input of tags.
type TagsInput struct {
	// Prefix every tag must start with.
	Prefix string `json:"prefix"`
}

// Tags lists the tags with a prefix: none is a nil slice, written [].
//
//palyra:tool
func Tags(in TagsInput) ([]string, error) {
	var tags []string
	for _, t := range []string{"go", "wasm", "palyra"} {
		if strings.HasPrefix(t, in.Prefix) {
			tags = append(tags, t)
		}
	}
	return tags, nil
}
