// Package awsfake is a loopback endpoint that speaks the wire protocols of
// the AWS calls the plugin makes — EC2's query protocol with XML answers
// (DescribeInstances, DescribeImages) and SSM's JSON 1.1 protocol
// (GetParameter) — so the real aws-sdk-go-v2 clients are tested end to end
// through their BaseEndpoint (AWS_ENDPOINT_URL), not stubbed.
package awsfake

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// Image is an AMI the fake EC2 knows.
type Image struct {
	Name       string
	Public     bool
	OwnerAlias string
	Tags       map[string]string
}

// Server is the fake endpoint.
type Server struct {
	Instances  map[string]string // instance id → AMI id
	Images     map[string]Image
	Parameters map[string]string
	// Deny makes these actions answer UnauthorizedOperation / AccessDenied.
	Deny map[string]bool

	mu    sync.Mutex
	calls []string
	srv   *httptest.Server
}

// Start serves on a loopback port.
func (s *Server) Start() {
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
}

// URL is the endpoint for AWS_ENDPOINT_URL.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Calls lists the actions served, in order.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func (s *Server) record(action string) {
	s.mu.Lock()
	s.calls = append(s.calls, action)
	s.mu.Unlock()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if target := r.Header.Get("X-Amz-Target"); strings.HasPrefix(target, "AmazonSSM.") {
		s.serveSSM(w, strings.TrimPrefix(target, "AmazonSSM."), body)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	action := form.Get("Action")
	s.record(action)
	if s.Deny[action] {
		ec2Error(w, http.StatusForbidden, "UnauthorizedOperation", "You are not authorized to perform this operation.")
		return
	}
	switch action {
	case "DescribeInstances":
		s.describeInstances(w, filterValues(form, "instance-id"))
	case "DescribeImages":
		s.describeImages(w, filterValues(form, "image-id"))
	default:
		ec2Error(w, http.StatusBadRequest, "InvalidAction", "unsupported action "+action)
	}
}

// filterValues reads Filter.N.Name=name / Filter.N.Value.M from a query.
func filterValues(form url.Values, name string) []string {
	var out []string
	for n := 1; ; n++ {
		fname := form.Get(fmt.Sprintf("Filter.%d.Name", n))
		if fname == "" {
			return out
		}
		if fname != name {
			continue
		}
		for m := 1; ; m++ {
			v := form.Get(fmt.Sprintf("Filter.%d.Value.%d", n, m))
			if v == "" {
				break
			}
			out = append(out, v)
		}
	}
}

type xmlInstance struct {
	InstanceID string `xml:"instanceId"`
	ImageID    string `xml:"imageId"`
}

type xmlReservation struct {
	ReservationID string        `xml:"reservationId"`
	Instances     []xmlInstance `xml:"instancesSet>item"`
}

func (s *Server) describeInstances(w http.ResponseWriter, ids []string) {
	type resp struct {
		XMLName      xml.Name         `xml:"DescribeInstancesResponse"`
		Xmlns        string           `xml:"xmlns,attr"`
		RequestID    string           `xml:"requestId"`
		Reservations []xmlReservation `xml:"reservationSet>item"`
	}
	out := resp{Xmlns: "http://ec2.amazonaws.com/doc/2016-11-15/", RequestID: "fake"}
	for i, id := range ids {
		if ami, ok := s.Instances[id]; ok {
			out.Reservations = append(out.Reservations, xmlReservation{ReservationID: fmt.Sprintf("r-%d", i), Instances: []xmlInstance{{InstanceID: id, ImageID: ami}}})
		}
	}
	writeXML(w, out)
}

func (s *Server) describeImages(w http.ResponseWriter, ids []string) {
	type tag struct {
		Key   string `xml:"key"`
		Value string `xml:"value"`
	}
	type image struct {
		ImageID    string `xml:"imageId"`
		Name       string `xml:"name"`
		Public     bool   `xml:"isPublic"`
		OwnerAlias string `xml:"imageOwnerAlias,omitempty"`
		Platform   string `xml:"platform"`
		Tags       []tag  `xml:"tagSet>item,omitempty"`
	}
	type resp struct {
		XMLName   xml.Name `xml:"DescribeImagesResponse"`
		Xmlns     string   `xml:"xmlns,attr"`
		RequestID string   `xml:"requestId"`
		Images    []image  `xml:"imagesSet>item"`
	}
	out := resp{Xmlns: "http://ec2.amazonaws.com/doc/2016-11-15/", RequestID: "fake"}
	for _, id := range ids {
		if img, ok := s.Images[id]; ok {
			var tags []tag
			for _, k := range slices.Sorted(maps.Keys(img.Tags)) {
				tags = append(tags, tag{Key: k, Value: img.Tags[k]})
			}
			out.Images = append(out.Images, image{ImageID: id, Name: img.Name, Public: img.Public, OwnerAlias: img.OwnerAlias, Platform: "windows", Tags: tags})
		}
	}
	writeXML(w, out)
}

func (s *Server) serveSSM(w http.ResponseWriter, op string, body []byte) {
	s.record(op)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if s.Deny[op] {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"AccessDeniedException","message":"not authorized to perform ssm:GetParameter"}`))
		return
	}
	if op != "GetParameter" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"InvalidAction","message":"unsupported"}`))
		return
	}
	var in struct{ Name string }
	_ = json.Unmarshal(body, &in)
	v, ok := s.Parameters[in.Name]
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"ParameterNotFound","message":"` + in.Name + `"}`))
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"Parameter": map[string]any{"Name": in.Name, "Type": "String", "Value": v, "Version": 1}})
}

func writeXML(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(v)
}

func ec2Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>fake</RequestID></Response>`, code, msg)
}
