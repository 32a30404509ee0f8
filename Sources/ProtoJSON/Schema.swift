/// What the JSON mapping needs to know of protobuf messages: field names and numbers, types,
/// and enum value names. Generated from the .proto files (scripts/gen-gateway-schema.py).
public struct ProtoSchema: Sendable {
    public let messages: [String: MessageSchema]
    public let enums: [String: EnumSchema]

    public init(messages: [MessageSchema], enums: [EnumSchema]) {
        self.messages = Dictionary(uniqueKeysWithValues: messages.map { ($0.name, $0) })
        self.enums = Dictionary(uniqueKeysWithValues: enums.map { ($0.name, $0) })
    }
}

public struct MessageSchema: Sendable {
    /// Full protobuf name, "etcdserverpb.RangeRequest".
    public let name: String
    /// In declaration order (the order Go's jsonpb writes them).
    public let fields: [FieldSchema]
    let byNumber: [Int: FieldSchema]
    let byJSONName: [String: FieldSchema]

    public init(_ name: String, _ fields: [FieldSchema]) {
        self.name = name
        self.fields = fields
        byNumber = Dictionary(fields.map { ($0.number, $0) }, uniquingKeysWith: { first, _ in first })
        var names: [String: FieldSchema] = [:]
        for field in fields {
            names[field.name] = field
            if names[field.jsonName] == nil { names[field.jsonName] = field }
        }
        byJSONName = names
    }
}

public struct FieldSchema: Sendable {
    public enum Kind: Sendable, Equatable {
        case int64, uint64, int32, uint32, bool, string, bytes
        /// An enum, by its full protobuf name.
        case enumeration(String)
        /// A message, by its full protobuf name.
        case message(String)
    }

    /// The name as the .proto spells it (jsonpb's OrigName).
    public let name: String
    /// protoc's lowerCamelCase JSON name, also accepted on input.
    public let jsonName: String
    public let number: Int
    public let kind: Kind
    public let repeated: Bool
    /// A member of a oneof: written even when it holds a zero value.
    public let inOneof: Bool

    public init(_ name: String, _ number: Int, _ kind: Kind, repeated: Bool = false, inOneof: Bool = false) {
        self.name = name
        self.number = number
        self.kind = kind
        self.repeated = repeated
        self.inOneof = inOneof
        self.jsonName = FieldSchema.lowerCamel(name)
    }

    /// protoc's JSON name: underscores dropped, the letter after each capitalised.
    static func lowerCamel(_ name: String) -> String {
        var out = ""
        var upperNext = false
        for character in name {
            if character == "_" {
                upperNext = true
            } else if upperNext {
                out += character.uppercased()
                upperNext = false
            } else {
                out.append(character)
            }
        }
        return out
    }

    var isScalarVarint: Bool {
        switch kind {
        case .int64, .uint64, .int32, .uint32, .bool, .enumeration: return true
        default: return false
        }
    }
}

public struct EnumSchema: Sendable {
    /// Full protobuf name, "etcdserverpb.RangeRequest.SortOrder".
    public let name: String
    /// The Go type name used in error texts, "etcdserverpb.RangeRequest_SortOrder".
    public let goName: String
    public let values: [(name: String, number: Int32)]

    public init(_ name: String, goName: String, _ values: [(String, Int32)]) {
        self.name = name
        self.goName = goName
        self.values = values.map { (name: $0.0, number: $0.1) }
    }

    func name(of number: Int32) -> String? { values.first { $0.number == number }?.name }
    func number(of name: String) -> Int32? { values.first { $0.name == name }?.number }
}
