package patch

import (
	"testing"

	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// deviceType has the attribute types the served schemas do not use.
var deviceType = &schema.ResourceType{Name: "Device", Schema: &schema.Schema{ID: "urn:example:Device", Attributes: []*schema.Attribute{
	{Name: "count", Type: schema.Integer, Mutability: schema.ReadWrite},
	{Name: "ratio", Type: schema.Decimal, Mutability: schema.ReadWrite},
	{Name: "seen", Type: schema.DateTime, Mutability: schema.ReadWrite},
	{Name: "tags", Type: schema.String, MultiValued: true, Mutability: schema.ReadWrite},
	{Name: "serial", Type: schema.String, Mutability: schema.Immutable},
}}}

func TestOtherTypes(t *testing.T) {
	const device = `{"count": 5, "tags": ["red"]}`
	runApplyTests(t, []applyTest{
		{name: "an integer", rt: deviceType, doc: device, body: body(`{"op":"replace","path":"count","value":7}`),
			want: func(d M) { d["count"] = 7.0 }},
		{name: "the same integer", rt: deviceType, doc: device, body: body(`{"op":"replace","path":"count","value":5.0}`)},
		{name: "a fraction for an integer", rt: deviceType, doc: device, body: body(`{"op":"replace","path":"count","value":1.5}`),
			scimType: scimerror.InvalidValue, detail: "count must be an integer number, not the number 1.5"},
		{name: "a string for an integer", rt: deviceType, doc: device, body: body(`{"op":"replace","path":"count","value":"5"}`),
			scimType: scimerror.InvalidValue, detail: `count must be an integer number, not the string "5"`},
		{name: "a decimal", rt: deviceType, doc: device, body: body(`{"op":"add","path":"ratio","value":0.5}`),
			want: func(d M) { d["ratio"] = 0.5 }},
		{name: "a boolean for a decimal", rt: deviceType, doc: device, body: body(`{"op":"add","path":"ratio","value":true}`),
			scimType: scimerror.InvalidValue, detail: "ratio must be a decimal number, not the boolean true"},
		{name: "a dateTime", rt: deviceType, doc: device, body: body(`{"op":"add","path":"seen","value":"2024-05-01T00:00:00Z"}`),
			want: func(d M) { d["seen"] = "2024-05-01T00:00:00Z" }},
		{name: "not a dateTime", rt: deviceType, doc: device, body: body(`{"op":"add","path":"seen","value":"yesterday"}`),
			scimType: scimerror.InvalidValue, detail: `seen must be a dateTime string such as "2011-05-13T04:42:34Z", not the string "yesterday"`},
		{name: "simple values, without duplicates", rt: deviceType, doc: device, body: body(`{"op":"add","path":"tags","value":["red","blue","blue"]}`),
			want: func(d M) { d["tags"] = A{"red", "blue"} }},
		{name: "remove simple values", rt: deviceType, doc: device, body: body(`{"op":"remove","path":"tags","value":["red"]}`),
			want: func(d M) { delete(d, "tags") }},
		{name: "a number among simple values", rt: deviceType, doc: device, body: body(`{"op":"add","path":"tags","value":[1]}`),
			scimType: scimerror.InvalidValue, detail: "tags[0] must be a string, not the number 1"},
		{name: "set an immutable attribute", rt: deviceType, doc: device, body: body(`{"op":"add","path":"serial","value":"S-1"}`),
			want: func(d M) { d["serial"] = "S-1" }},
		{name: "repeat an immutable attribute", rt: deviceType, doc: `{"serial": "S-1"}`, body: body(`{"op":"replace","value":{"serial":"S-1"}}`)},
		{name: "change an immutable attribute", rt: deviceType, doc: `{"serial": "S-1"}`, body: body(`{"op":"replace","path":"serial","value":"S-2"}`),
			scimType: scimerror.Mutability, detail: "serial is immutable and cannot be changed once set"},
		{name: "remove an immutable attribute", rt: deviceType, doc: `{"serial": "S-1"}`, body: body(`{"op":"remove","path":"serial"}`),
			scimType: scimerror.Mutability, detail: "serial is immutable and cannot be removed"},
		{name: "addresses, which have no value sub-attribute, are not added twice",
			doc:  `{"addresses": [{"type": "work", "locality": "Hollywood"}]}`,
			body: body(`{"op":"add","path":"addresses","value":[{"locality":"Hollywood","type":"work"},{"type":"home","locality":"Burbank"}]}`),
			want: func(d M) { d["addresses"] = append(d["addresses"].(A), M{"type": "home", "locality": "Burbank"}) }},
	})
}
