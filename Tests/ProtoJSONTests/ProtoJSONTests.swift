import ProtoWire
import Testing
@testable import ProtoJSON

/// A few messages shaped like etcd's, enough to exercise every kind of field.
let testSchema = ProtoSchema(messages: [
    MessageSchema("t.Header", [FieldSchema("cluster_id", 1, .uint64), FieldSchema("revision", 3, .int64)]),
    MessageSchema("t.KeyValue", [FieldSchema("key", 1, .bytes), FieldSchema("version", 4, .int64),
                                 FieldSchema("value", 5, .bytes)]),
    MessageSchema("t.Range", [
        FieldSchema("header", 1, .message("t.Header")),
        FieldSchema("kvs", 2, .message("t.KeyValue"), repeated: true),
        FieldSchema("count", 3, .int64),
        FieldSchema("sort_order", 5, .enumeration("t.Range.SortOrder")),
        FieldSchema("keys_only", 8, .bool),
        FieldSchema("hash", 9, .uint32),
        FieldSchema("ID", 10, .int64),
        FieldSchema("name", 11, .string),
        FieldSchema("filters", 12, .enumeration("t.Range.SortOrder"), repeated: true),
        FieldSchema("create_revision", 13, .int64, inOneof: true),
        FieldSchema("delta", 14, .int32),
    ]),
], enums: [EnumSchema("t.Range.SortOrder", goName: "t.Range_SortOrder", [("NONE", 0), ("ASCEND", 1), ("DESCEND", 2)])])

let codec = ProtoJSON(schema: testSchema)

func parse(_ text: String) throws -> JSONValue {
    var reader = JSONReader(Array(text.utf8))
    return try #require(try reader.next())
}

func roundTrip(_ json: String) throws -> String {
    try codec.json(fromWire: codec.wire(fromJSON: parse(json), message: "t.Range"), message: "t.Range")
}

@Suite struct ProtoJSONTests {
    @Test func writesJsonpbsConventions() throws {
        #expect(try roundTrip(#"{"header":{"cluster_id":"18446744073709551615","revision":"-5"},"count":"3"}"#)
                == #"{"header":{"cluster_id":"18446744073709551615","revision":"-5"},"count":"3"}"#)
        // Zero values vanish; a present empty message stays; enums by name; 32-bit as numbers.
        #expect(try roundTrip(#"{"header":{},"count":0,"keys_only":false,"sort_order":"DESCEND","hash":7,"delta":-2}"#)
                == #"{"header":{},"sort_order":"DESCEND","hash":7,"delta":-2}"#)
        // Declaration order, whatever the input order; camelCase accepted on input.
        #expect(try roundTrip(#"{"keysOnly":true,"kvs":[{"key":"Zm9v","value":"YmFy","version":"1"}],"sortOrder":1}"#)
                == #"{"kvs":[{"key":"Zm9v","version":"1","value":"YmFy"}],"sort_order":"ASCEND","keys_only":true}"#)
        // A oneof member is written even when zero; packed repeated enums.
        #expect(try roundTrip(#"{"create_revision":"0","filters":["DESCEND","NONE"]}"#)
                == #"{"filters":["DESCEND","NONE"],"create_revision":"0"}"#)
        // Go's HTML-safe escaping.
        #expect(try roundTrip(#"{"name":"a<b>&c\"é\u2028\n"}"#) == #"{"name":"a\u003cb\u003e\u0026c\"é\u2028\n"}"#)
        // Unknown fields and nulls are ignored; the last duplicate wins.
        #expect(try roundTrip(#"{"bogus":[1,{"x":null}],"count":null,"ID":"1","ID":"2"}"#) == #"{"ID":"2"}"#)
        #expect(try roundTrip("null") == "{}")
    }

    @Test func refusesAsGoDoes() throws {
        func error(_ json: String) -> String? {
            do {
                _ = try roundTrip(json)
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(error("[1]") == "json: cannot unmarshal array into Go value of type map[string]json.RawMessage")
        #expect(error(#"{"name":123}"#) == "json: cannot unmarshal number into Go value of type string")
        #expect(error(#"{"kvs":[{"key":123}]}"#) == "json: cannot unmarshal number into Go value of type []uint8")
        #expect(error(#"{"kvs":[{"key":"!!!"}]}"#) == "illegal base64 data at input byte 0")
        #expect(error(#"{"kvs":[{"key":"YQ"}]}"#) == "illegal base64 data at input byte 0")
        #expect(error(#"{"count":"abc"}"#) == "invalid character 'a' looking for beginning of value")
        #expect(error(#"{"count":true}"#) == "json: cannot unmarshal bool into Go value of type int64")
        #expect(error(#"{"count":1.5}"#) == "json: cannot unmarshal number 1.5 into Go value of type int64")
        #expect(error(#"{"count":"9223372036854775808"}"#)
                == "json: cannot unmarshal number 9223372036854775808 into Go value of type int64")
        #expect(error(#"{"keys_only":"true"}"#) == "json: cannot unmarshal string into Go value of type bool")
        #expect(error(#"{"sort_order":"BAD"}"#) == #"unknown value "BAD" for enum t.Range_SortOrder"#)
        #expect(error(#"{"kvs":{}}"#) == "json: cannot unmarshal object into Go value of type []json.RawMessage")
        #expect(error(#"{"header":[]}"#) == "json: cannot unmarshal array into Go value of type map[string]json.RawMessage")
    }

    @Test func readerErrorsAreGos() {
        func error(_ text: String) -> String? {
            var reader = JSONReader(Array(text.utf8))
            do {
                _ = try reader.next()
                return nil
            } catch {
                return error.description
            }
        }
        #expect(error(#"{"key":"#) == "unexpected EOF")
        #expect(error("notjson") == "invalid character 'o' in literal null (expecting 'u')")
        #expect(error("xyz") == "invalid character 'x' looking for beginning of value")
        #expect(error(#"{"a" 1}"#) == "invalid character '1' after object key")
        #expect(error(#"{"a":1 "b"}"#) == "invalid character '\"' after object key:value pair")
        #expect(error("{1}") == "invalid character '1' looking for beginning of object key string")
        #expect(error("[1 2]") == "invalid character '2' after array element")
        #expect(error("-x") == "invalid character 'x' in numeric literal")
        #expect(error(#""\q""#) == "invalid character 'q' in string escape code")
    }

    @Test func readsASequenceOfValues() throws {
        var reader = JSONReader(Array(#"{"a":1}{"b":2} [3]"#.utf8))
        #expect(try reader.next() == .object([("a", .number("1"))]))
        #expect(try reader.next() == .object([("b", .number("2"))]))
        #expect(try reader.next() == .array([.number("3")]))
        #expect(try reader.next() == nil)
    }

    @Test func base64IsStandardWithPadding() throws {
        for length in 0..<20 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) }
            #expect(try base64Decode(Array(base64Encode(bytes).utf8)) == bytes)
        }
        #expect(base64Encode(Array("foo".utf8)) == "Zm9v")
        #expect(base64Encode(Array("fo".utf8)) == "Zm8=")
        #expect(throws: JSONError("illegal base64 data at input byte 0")) { try base64Decode(Array("-_-_".utf8)) }
    }
}
