//! The API's OpenAPI 3.1 document, built from the route table ([`crate::routes`]) and the
//! schemas derived from the API's JSON shapes (`utoipa::ToSchema`), and a check of a JSON
//! value against one of its schemas ([`check`]). The node serves the document at
//! `GET /v1/openapi.json`; the client checks responses against it in tests (ADR 0031).

pub mod check;

use crate::api::ErrorBody;
use crate::routes::{self, COMMON_ERRORS, Codes, Content, Errors, In, RouteDef, ServedBy};
use crate::{Address, DeviceKey, DeviceSignature, Hash, Signature};
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::sync::OnceLock;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// A string schema with a description and, when given, the pattern its values match.
pub fn string_schema(description: &str, pattern: Option<&str>) -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
            .pattern(pattern)
            .build(),
    ))
}

/// The schema of a type the API writes as one string (hashes, addresses, keys,
/// signatures), under a component name.
macro_rules! string_component {
    ($ty:ty, $name:literal, $description:literal, $pattern:literal) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                string_schema($description, Some($pattern))
            }
        }
        impl utoipa::ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

string_component!(Hash, "Hash", "32 bytes as 64 lowercase hex digits", "^[0-9a-f]{64}$");
string_component!(
    Address,
    "Address",
    "an account address: bech32m with the prefix cairn",
    "^cairn1[02-9ac-hj-np-z]+$"
);
string_component!(
    Signature,
    "Signature",
    "a 64-byte ed25519 signature as 128 lowercase hex digits",
    "^[0-9a-f]{128}$"
);
string_component!(
    DeviceKey,
    "DeviceKey",
    "a device public key: `ed25519:` or `p256:` and its bytes in lowercase hex",
    "^(ed25519|p256):[0-9a-f]+$"
);
string_component!(
    DeviceSignature,
    "DeviceSignature",
    "a device signature: `ed25519:` or `p256:` and its bytes in lowercase hex",
    "^(ed25519|p256):[0-9a-f]+$"
);

/// The JSON forms of numbers and bytes written as strings (docs/wire.md, "JSON forms"):
/// schema stand-ins for fields serialized through the `crate::api` serde helpers.
macro_rules! string_form {
    ($(#[doc = $doc:literal])* $ty:ident, $name:literal, $description:literal, $pattern:literal) => {
        $(#[doc = $doc])*
        pub struct $ty;
        string_component!($ty, $name, $description, $pattern);
    };
}

string_form!(
    /// A u128 amount as a decimal string.
    AmountString,
    "AmountString",
    "an amount in base units (or another u128) as a decimal string",
    "^[0-9]+$"
);
string_form!(
    /// A u64 that can pass 2^53 as a decimal string.
    U64String,
    "U64String",
    "a u64 as a decimal string (it can pass 2^53)",
    "^[0-9]+$"
);
string_form!(
    /// An i64 a signer chooses as a decimal string.
    I64String,
    "I64String",
    "an i64 as a decimal string",
    "^-?[0-9]+$"
);
string_form!(
    /// An H3 cell as lowercase hex.
    CellHex,
    "CellHex",
    "an H3 cell index as 1 to 16 lowercase hex digits",
    "^[0-9a-f]{1,16}$"
);
string_form!(
    /// Bytes as lowercase hex.
    HexBytes,
    "HexBytes",
    "bytes as lowercase hex",
    "^([0-9a-f]{2})*$"
);

/// Named schemas collected for the document's `components`.
pub type Schemas = Vec<(String, RefOr<Schema>)>;

/// The schema of a JSON body of type `T`: a reference to its component for a named type
/// (its component and those it refers to added to `schemas`), inline for an array.
pub fn json_schema<T: utoipa::ToSchema>(schemas: &mut Schemas) -> RefOr<Schema> {
    T::schemas(schemas);
    let schema = T::schema();
    if matches!(schema, RefOr::T(Schema::Array(_))) {
        return schema;
    }
    let name = T::name().into_owned();
    schemas.push((name.clone(), schema));
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(name))
}

/// The body of `GET /v1/openapi.json`: this document, as JSON.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Document(pub Value);

impl utoipa::PartialSchema for Document {
    fn schema() -> RefOr<Schema> {
        RefOr::T(Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some("an OpenAPI 3.1 document"))
                .property("openapi", string_schema("the OpenAPI version", Some("^3\\.1\\.")))
                .required("openapi")
                .property("paths", ObjectBuilder::new().schema_type(Type::Object))
                .required("paths")
                .additional_properties(Some(ObjectBuilder::new()))
                .build(),
        ))
    }
}

impl utoipa::ToSchema for Document {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("OpenApiDocument")
    }
}

/// The version of the API the document describes.
pub const API_VERSION: &str = "1";

/// The OpenAPI 3.1 document of every route in [`routes::ALL`], with the named schemas
/// they use, and the component names two different types claimed (none in a sound build;
/// a test checks).
pub fn build() -> (Value, Vec<String>) {
    let mut schemas: Schemas = Vec::new();
    let mut paths = Map::new();
    for route in routes::ALL {
        let op = operation(route, &mut schemas);
        let item = paths.entry(route.path.to_string()).or_insert_with(|| json!({}));
        if let Some(item) = item.as_object_mut() {
            item.insert(route.method.lowercase().to_string(), op);
        }
    }
    schemas.push(("ErrorBody".into(), <ErrorBody as utoipa::PartialSchema>::schema()));
    let mut components = Map::new();
    let mut clashes = Vec::new();
    for (name, schema) in schemas {
        let value = serde_json::to_value(&schema).unwrap_or(Value::Null);
        match components.get(&name) {
            Some(old) if *old != value => clashes.push(name),
            Some(_) => {}
            None => {
                components.insert(name, value);
            }
        }
    }
    // A type alias of a primitive (`Height`) reaches the derive as a named type: its
    // schema is the primitive's, written in place rather than as a component.
    let primitives: Map<String, Value> = PRIMITIVES
        .iter()
        .filter_map(|name| components.remove(*name).map(|schema| (name.to_string(), schema)))
        .collect();
    let mut paths = Value::Object(paths);
    let mut components = Value::Object(components);
    inline(&mut paths, &primitives);
    inline(&mut components, &primitives);
    let doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Cairn node API",
            "version": API_VERSION,
            "description": "The HTTP API of a Cairn node (docs/protocol.md, \"HTTP API\"). \
                Amounts and other integers that can pass 2^53 are decimal strings, H3 cells \
                lowercase hex (docs/wire.md, \"JSON forms\"). Every error is \
                `{code, message}` with a stable code.",
        },
        "paths": paths,
        "components": { "schemas": components },
    });
    (doc, clashes)
}

/// Names the derive gives the schemas of primitive types reached through an alias.
const PRIMITIVES: [&str; 12] =
    ["u8", "u16", "u32", "u64", "u128", "i8", "i16", "i32", "i64", "i128", "bool", "String"];

/// Replaces each `$ref` to one of `primitives` with the primitive's schema.
fn inline(v: &mut Value, primitives: &Map<String, Value>) {
    match v {
        Value::Object(m) => {
            let target = m
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .and_then(|name| primitives.get(name));
            if let Some(schema) = target {
                m.remove("$ref");
                for (k, x) in schema.as_object().into_iter().flatten() {
                    m.entry(k.clone()).or_insert_with(|| x.clone());
                }
            } else {
                m.values_mut().for_each(|x| inline(x, primitives));
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| inline(x, primitives)),
        _ => {}
    }
}

/// The document, built once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| build().0)
}

fn content(c: &Content, schemas: &mut Schemas) -> Value {
    match c {
        Content::Json(schema) => json!({"application/json": {"schema": schema(schemas)}}),
        Content::Other { media_type, description } => {
            json!({ *media_type: {"schema": {"type": "string", "description": description}} })
        }
        Content::EventStream => json!({"text/event-stream": {"schema": {
            "type": "string",
            "description": "server-sent events: `id` (the event id), `event` (the topic, or \
                `missed` when events were dropped) and `data` (JSON); docs/protocol.md",
        }}}),
    }
}

fn error_response(codes: &Codes) -> Value {
    let (schema, description) = match codes {
        Codes::Listed(codes) => (
            json!({"allOf": [
                {"$ref": "#/components/schemas/ErrorBody"},
                {"type": "object", "properties": {"code": {"type": "string", "enum": codes}}},
            ]}),
            format!(
                "error: {}",
                codes.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
            ),
        ),
        Codes::Family(text) => {
            (json!({"$ref": "#/components/schemas/ErrorBody"}), format!("error: {text}"))
        }
    };
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn operation(route: &RouteDef, schemas: &mut Schemas) -> Value {
    let params: Vec<Value> = route
        .params
        .iter()
        .map(|p| {
            let schema = serde_json::to_value((p.schema)()).unwrap_or(Value::Null);
            json!({
                "name": p.name,
                "in": match p.at { In::Path => "path", In::Query => "query", In::Header => "header" },
                "required": p.required,
                "description": p.description,
                "schema": schema,
            })
        })
        .collect();
    let mut responses = Map::new();
    responses.insert(
        route.status.to_string(),
        json!({"description": route.summary, "content": content(&route.response, schemas)}),
    );
    let mut errors: Vec<&Errors> = route.errors.iter().collect();
    if route.served_by == ServedBy::Handler {
        errors.extend(COMMON_ERRORS);
    }
    for e in errors {
        responses.insert(e.status.to_string(), error_response(&e.codes));
    }
    let mut op = json!({
        "operationId": route.id,
        "summary": route.summary,
        "tags": [route.tag],
        "responses": responses,
    });
    if !params.is_empty() {
        op["parameters"] = Value::Array(params);
    }
    if let Some(body) = &route.request {
        op["requestBody"] = json!({"required": true, "content": content(body, schemas)});
    }
    op
}

#[cfg(test)]
mod tests;
