package contract

import (
	"encoding/json"
	"testing"
	"time"
)

func TestAllReadyNeedsDoneAndEveryImageReady(t *testing.T) {
	cases := []struct {
		name string
		snap Snapshot
		want bool
	}{
		{"all ready", Snapshot{Ready: 2, Total: 2, Done: true}, true},
		{"one failed", Snapshot{Ready: 1, Total: 2, Done: true}, false},
		{"still pulling", Snapshot{Ready: 2, Total: 2, Done: false}, false},
		{"empty list", Snapshot{Done: true}, true},
	}
	for _, c := range cases {
		if got := c.snap.AllReady(); got != c.want {
			t.Errorf("%s: AllReady = %v", c.name, got)
		}
	}
}

func TestInProgressStates(t *testing.T) {
	for s, want := range map[State]bool{Pending: true, Pulling: true, Unpacking: true, Ready: false, Failed: false, Skipped: false} {
		if s.InProgress() != want {
			t.Errorf("%s.InProgress() = %v", s, !want)
		}
	}
}

func TestProgressDocumentKeepsItsWireNames(t *testing.T) {
	// The plugin of one release reads what the daemon of another wrote.
	p := Progress{Node: "n1", Updated: time.Unix(0, 0).UTC(), Snapshot: Snapshot{Images: []ImageState{{Ref: "r", State: Ready, BytesTotal: 3, Updated: time.Unix(0, 0).UTC()}}, Ready: 1, Total: 1, Done: true}}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"node":"n1","updated":"1970-01-01T00:00:00Z","images":[{"ref":"r","state":"Ready","bytesTotal":3,"updated":"1970-01-01T00:00:00Z"}],"ready":1,"total":1,"done":true}`
	if string(data) != want {
		t.Fatalf("wire form changed:\n got %s\nwant %s", data, want)
	}
}

func TestPinDefaultsToTrue(t *testing.T) {
	no := false
	if !(ListedImage{Ref: "a"}).Pinned() || (ListedImage{Ref: "a", Pin: &no}).Pinned() {
		t.Fatal("Pin: unset means pinned, false means not")
	}
}
