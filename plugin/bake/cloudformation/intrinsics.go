package cloudformation

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/winimage-io/kubectl-winimage/plugin/bake"
)

// intrinsics stands CloudFormation intrinsic functions (Ref, Fn::GetAtt,
// Fn::Sub) in for string fields of goformation's typed resources. goformation
// does the same with base64-encoded JSON that its template writer decodes
// wherever a string happens to decode (goformation v7.14.9
// cloudformation/intrinsics.go encode, intrinsics/intrinsics.go search), so
// a cluster or image name that is valid base64 of {"Ref": …} would turn
// into a function. Here each function gets a token with a random nonce, and
// only strings equal to a token this template issued are replaced.
type intrinsics struct {
	nonce  string
	values map[string]any
}

func newIntrinsics() *intrinsics {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return &intrinsics{nonce: hex.EncodeToString(b), values: map[string]any{}}
}

func (in *intrinsics) put(fn string, arg any) string {
	tok := fmt.Sprintf("\x00cfn-%s-%d\x00", in.nonce, len(in.values))
	in.values[tok] = map[string]any{fn: arg}
	return tok
}

// Ref of a parameter, resource or pseudo parameter.
func (in *intrinsics) Ref(name string) string { return in.put("Ref", name) }

// GetAtt of a resource's attribute.
func (in *intrinsics) GetAtt(resource, attribute string) string {
	return in.put("Fn::GetAtt", []string{resource, attribute})
}

// Sub of a string with ${Parameter} and ${Resource.Attribute} in it.
func (in *intrinsics) Sub(s string) string { return in.put("Fn::Sub", s) }

// Base64Sub is Fn::Base64 of an Fn::Sub of s (user data).
func (in *intrinsics) Base64Sub(s string) string {
	return in.put("Fn::Base64", map[string]any{"Fn::Sub": s})
}

// resolve marshals v and puts each issued function in place of its token.
func (in *intrinsics) resolve(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var tree any
	if err := json.Unmarshal(data, &tree); err != nil {
		return nil, err
	}
	return in.replace(tree), nil
}

func (in *intrinsics) replace(v any) any {
	switch x := v.(type) {
	case string:
		if fn, ok := in.values[x]; ok {
			return fn
		}
	case []any:
		for i := range x {
			x[i] = in.replace(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = in.replace(x[k])
		}
	}
	return v
}

// imageListReadStatement is what the instance role needs to read the list.
func imageListReadStatement(src *bake.ImageListSource, fn *intrinsics) bake.Statement {
	if src.Bucket != "" {
		return bake.Statement{Sid: "ReadImageList", Effect: "Allow", Action: []string{"s3:GetObject"},
			Resource: []string{fn.Sub("arn:${AWS::Partition}:s3:::" + src.Bucket + "/" + src.Key)}}
	}
	return bake.Statement{Sid: "ReadImageList", Effect: "Allow", Action: []string{"ssm:GetParameter"},
		Resource: []string{fn.Sub("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter" + src.Parameter)}}
}
