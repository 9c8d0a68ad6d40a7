//go:build linux

package cfnspec

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// pseudoParameters can be Ref'd in any template.
var pseudoParameters = []string{"AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition", "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix"}

// parameterTypes are the template parameter types CloudFormation takes
// besides the AWS-specific ones (AWS::EC2::…, AWS::SSM::Parameter::…).
var parameterTypes = []string{"String", "Number", "List<Number>", "CommaDelimitedList"}

type template struct {
	Parameters map[string]struct {
		Type          string `json:"Type"`
		Default       any    `json:"Default"`
		AllowedValues []any  `json:"AllowedValues"`
	} `json:"Parameters"`
	Resources map[string]struct {
		Type       string         `json:"Type"`
		Properties map[string]any `json:"Properties"`
		DependsOn  any            `json:"DependsOn"`
	} `json:"Resources"`
	Outputs map[string]struct {
		Value any `json:"Value"`
	} `json:"Outputs"`
}

// checker is one template's validation.
type checker struct {
	spec *Spec
	tmpl template
	errs []string
}

// Validate checks a JSON template: every resource type known, every
// property known with a value of its type (allowed values included), the
// required ones present, every Ref, Fn::GetAtt and Fn::Sub target defined,
// parameter types valid. It returns one line per problem, sorted.
func (s *Spec) Validate(templateJSON []byte) []string {
	c := &checker{spec: s}
	if err := json.Unmarshal(templateJSON, &c.tmpl); err != nil {
		return []string{"template: " + err.Error()}
	}
	if len(c.tmpl.Resources) == 0 {
		c.fail("Resources", "a template needs at least one resource")
	}
	for name, p := range c.tmpl.Parameters {
		path := "Parameters." + name
		if !slices.Contains(parameterTypes, p.Type) && !strings.HasPrefix(p.Type, "AWS::") && !strings.HasPrefix(p.Type, "List<AWS::") {
			c.fail(path, "unknown parameter type %q", p.Type)
		}
		if p.Default != nil && len(p.AllowedValues) > 0 && !slices.Contains(p.AllowedValues, p.Default) {
			c.fail(path, "default %v is not among the allowed values %v", p.Default, p.AllowedValues)
		}
	}
	for name, r := range c.tmpl.Resources {
		c.resource("Resources."+name, r.Type, r.Properties)
		c.dependsOn("Resources."+name, r.DependsOn)
	}
	for name, o := range c.tmpl.Outputs {
		c.intrinsics("Outputs."+name+".Value", o.Value)
	}
	sort.Strings(c.errs)
	return c.errs
}

func (c *checker) fail(path, format string, args ...any) {
	c.errs = append(c.errs, path+": "+fmt.Sprintf(format, args...))
}

func (c *checker) resource(path, typ string, props map[string]any) {
	r, ok := c.spec.Resources[typ]
	if !ok {
		c.fail(path, "unknown resource type %q", typ)
		return
	}
	c.object(path+".Properties", props, r.Properties)
}

func (c *checker) dependsOn(path string, v any) {
	var names []any
	switch d := v.(type) {
	case string:
		names = []any{d}
	case []any:
		names = d
	}
	for _, n := range names {
		if s, _ := n.(string); c.tmpl.Resources[s].Type == "" {
			c.fail(path+".DependsOn", "no resource %v", n)
		}
	}
}

// object checks an object's properties against their definitions.
func (c *checker) object(path string, v map[string]any, props map[string]Property) {
	for name, val := range v {
		p, ok := props[name]
		if !ok {
			c.fail(path, "unknown property %q", name)
			continue
		}
		c.value(path+"."+name, val, p.Type)
	}
	for name, p := range props {
		if _, ok := v[name]; p.Required && !ok {
			c.fail(path, "required property %q missing", name)
		}
	}
}

// value checks v against t; an intrinsic function stands for any type,
// its targets checked.
func (c *checker) value(path string, v any, t Type) {
	if c.intrinsic(path, v) {
		return
	}
	switch t.Kind {
	case "string", "date-time":
		s, ok := v.(string)
		if !ok {
			c.fail(path, "want a string, have %T", v)
		} else {
			c.allowed(path, s, t)
		}
	case "number", "integer":
		f, ok := v.(float64)
		if !ok {
			c.fail(path, "want type %s, have %T", t.Kind, v)
		} else if t.Kind == "integer" && f != math.Trunc(f) {
			c.fail(path, "want an integer, have %v", f)
		} else {
			c.allowed(path, f, t)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			c.fail(path, "want a boolean, have %T", v)
		}
	case "json":
		switch v.(type) {
		case map[string]any, []any, string:
		default:
			c.fail(path, "want JSON, have %T", v)
		}
	case "tag":
		m, ok := v.(map[string]any)
		if !ok {
			c.fail(path, "want a tag {Key, Value}, have %T", v)
			return
		}
		c.object(path, m, map[string]Property{"Key": {Type: Type{Kind: "string"}, Required: true}, "Value": {Type: Type{Kind: "string"}, Required: true}})
	case "array":
		list, ok := v.([]any)
		if !ok {
			c.fail(path, "want a list, have %T", v)
			return
		}
		for i, e := range list {
			c.value(fmt.Sprintf("%s[%d]", path, i), e, *t.Element)
		}
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			c.fail(path, "want a map, have %T", v)
			return
		}
		for k, e := range m {
			c.value(path+"."+k, e, *t.Element)
		}
	case "ref":
		c.ref(path, v, t)
	case "union":
		c.union(path, v, t)
	default:
		c.fail(path, "unknown type %q in the database", t.Kind)
	}
}

// allowed checks v against the type's allowed values, if it has any.
func (c *checker) allowed(path string, v any, t Type) {
	if len(t.AllowedValues) > 0 && !slices.Contains(t.AllowedValues, v) {
		c.fail(path, "%#v is not one of %v", v, t.AllowedValues)
	}
}

func (c *checker) ref(path string, v any, t Type) {
	def, ok := c.spec.types[t.Reference.ID]
	if !ok {
		c.fail(path, "type %s missing from the database", t.Reference.ID)
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		c.fail(path, "want a %s object, have %T", def.Name, v)
		return
	}
	c.object(path, m, def.Properties)
}

// union passes when one of its types does.
func (c *checker) union(path string, v any, t Type) {
	var first []string
	for _, alt := range t.Types {
		sub := &checker{spec: c.spec, tmpl: c.tmpl}
		sub.value(path, v, alt)
		if len(sub.errs) == 0 {
			return
		}
		if first == nil {
			first = sub.errs
		}
	}
	c.errs = append(c.errs, first...)
}

// intrinsic reports whether v is an intrinsic function call, checking the
// targets of those that name resources or parameters.
func (c *checker) intrinsic(path string, v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	for fn, arg := range m {
		switch {
		case fn == "Ref":
			c.refTarget(path, arg)
		case fn == "Fn::GetAtt":
			c.getAtt(path, arg)
		case fn == "Fn::Sub":
			c.sub(path, arg)
		case strings.HasPrefix(fn, "Fn::") || fn == "Condition":
			c.intrinsics(path, arg)
		default:
			return false
		}
	}
	return true
}

// intrinsics checks every intrinsic function anywhere inside v.
func (c *checker) intrinsics(path string, v any) {
	if c.intrinsic(path, v) {
		return
	}
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			c.intrinsics(fmt.Sprintf("%s[%d]", path, i), e)
		}
	case map[string]any:
		for k, e := range x {
			c.intrinsics(path+"."+k, e)
		}
	}
}

func (c *checker) refTarget(path string, arg any) {
	name, ok := arg.(string)
	switch {
	case !ok:
		c.fail(path, "Ref takes a name, have %T", arg)
	case slices.Contains(pseudoParameters, name):
	case c.tmpl.Resources[name].Type != "":
	default:
		if _, ok := c.tmpl.Parameters[name]; !ok {
			c.fail(path, "Ref %q: no such resource or parameter", name)
		}
	}
}

func (c *checker) getAtt(path string, arg any) {
	var res, attr string
	switch a := arg.(type) {
	case string:
		res, attr, _ = strings.Cut(a, ".")
	case []any:
		if len(a) == 2 {
			res, _ = a[0].(string)
			attr, _ = a[1].(string)
		}
	}
	r := c.tmpl.Resources[res]
	if r.Type == "" {
		c.fail(path, "Fn::GetAtt %v: no such resource", arg)
		return
	}
	if spec, ok := c.spec.Resources[r.Type]; ok {
		if _, ok := spec.Attributes[attr]; !ok {
			c.fail(path, "Fn::GetAtt %v: %s has no attribute %q", arg, r.Type, attr)
		}
	}
}

var subVariable = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

// sub checks the ${Name} and ${Resource.Attribute} of an Fn::Sub string
// that its own variable map does not define.
func (c *checker) sub(path string, arg any) {
	var s string
	vars := map[string]any{}
	switch a := arg.(type) {
	case string:
		s = a
	case []any:
		if len(a) == 2 {
			s, _ = a[0].(string)
			vars, _ = a[1].(map[string]any)
			c.intrinsics(path, a[1])
		}
	}
	for _, m := range subVariable.FindAllStringSubmatch(s, -1) {
		name := m[1]
		if _, ok := vars[name]; ok {
			continue
		}
		if res, attr, ok := strings.Cut(name, "."); ok {
			c.getAtt(path, []any{res, attr})
		} else {
			c.refTarget(path, name)
		}
	}
}
