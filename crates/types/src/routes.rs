//! Every route of the HTTP API, defined once: method, path template, parameters, request
//! and response types, and the error codes each status can carry (ADR 0031).
//!
//! The node registers its handlers by these definitions (`cairn_node::api::router`), the
//! client builds its URLs from them and decodes each answer as the route's response type
//! ([`Route`]), and [`crate::openapi`] makes the OpenAPI document from them, so the three
//! cannot name a route differently. A path template is written as axum and OpenAPI both
//! read it: `/v1/blocks/{height}`.

use crate::api::*;
use crate::openapi::{Schemas, json_schema, string_schema};
use crate::{Address, DeviceClass, Genesis, Hash, Params, Receipt};
use std::fmt::{self, Display};
use std::marker::PhantomData;
use utoipa::PartialSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

/// An HTTP method of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    /// The method's name, lowercase (as OpenAPI keys operations).
    pub fn lowercase(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
        }
    }

    /// The method's name, uppercase (as HTTP writes it).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// Where a parameter is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    Path,
    Query,
    Header,
}

/// One parameter of a route.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub at: In,
    pub required: bool,
    pub schema: fn() -> RefOr<Schema>,
    pub description: &'static str,
}

impl Param {
    /// A path parameter (always required).
    pub const fn path(
        name: &'static str,
        schema: fn() -> RefOr<Schema>,
        description: &'static str,
    ) -> Param {
        Param { name, at: In::Path, required: true, schema, description }
    }

    /// An optional query parameter.
    pub const fn query(
        name: &'static str,
        schema: fn() -> RefOr<Schema>,
        description: &'static str,
    ) -> Param {
        Param { name, at: In::Query, required: false, schema, description }
    }

    /// A query parameter that must be given.
    pub const fn required_query(
        name: &'static str,
        schema: fn() -> RefOr<Schema>,
        description: &'static str,
    ) -> Param {
        Param { name, at: In::Query, required: true, schema, description }
    }

    /// An optional header.
    pub const fn header(
        name: &'static str,
        schema: fn() -> RefOr<Schema>,
        description: &'static str,
    ) -> Param {
        Param { name, at: In::Header, required: false, schema, description }
    }
}

/// What a request or response body holds.
#[derive(Debug, Clone, Copy)]
pub enum Content {
    /// `application/json` of a schema (its components added to the collection).
    Json(fn(&mut Schemas) -> RefOr<Schema>),
    /// Bytes of this media type that are not JSON (Prometheus text, raw borsh, HTML).
    Other { media_type: &'static str, description: &'static str },
    /// `text/event-stream`: server-sent events.
    EventStream,
}

/// The error codes an error status of a route can carry.
#[derive(Debug, Clone, Copy)]
pub enum Codes {
    /// Exactly these codes.
    Listed(&'static [&'static str]),
    /// A code from a family documented elsewhere (a transaction's refusal), described here.
    Family(&'static str),
}

/// One error status of a route and the codes it answers with.
#[derive(Debug, Clone, Copy)]
pub struct Errors {
    pub status: u16,
    pub codes: Codes,
}

impl Errors {
    pub const fn listed(status: u16, codes: &'static [&'static str]) -> Errors {
        Errors { status, codes: Codes::Listed(codes) }
    }
    pub const fn family(status: u16, description: &'static str) -> Errors {
        Errors { status, codes: Codes::Family(description) }
    }
}

/// Who answers a route: a handler the router registers, or the explorer's file server
/// (the router's fallback, ADR 0028).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServedBy {
    Handler,
    Explorer,
}

/// One route, untyped: everything the router, the client and the document need.
#[derive(Debug, Clone, Copy)]
pub struct RouteDef {
    /// The OpenAPI `operationId`.
    pub id: &'static str,
    pub method: Method,
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub params: &'static [Param],
    pub request: Option<Content>,
    /// The success status (200, or 202 for an admitted transaction) and its body.
    pub status: u16,
    pub response: Content,
    /// The error statuses particular to this route (those of every route are in
    /// [`COMMON_ERRORS`]).
    pub errors: &'static [Errors],
    pub served_by: ServedBy,
}

/// Error statuses any handler route can answer: the request timeout (408) and an internal
/// error (500).
pub const COMMON_ERRORS: &[Errors] =
    &[Errors::listed(408, &["timeout"]), Errors::listed(500, &["internal"])];

/// A route whose success answer decodes as `R`.
#[derive(Debug)]
pub struct Route<R> {
    pub def: RouteDef,
    response: PhantomData<fn() -> R>,
}

impl<R> Clone for Route<R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<R> Copy for Route<R> {}

impl<R> std::ops::Deref for Route<R> {
    type Target = RouteDef;
    fn deref(&self) -> &RouteDef {
        &self.def
    }
}

impl<R: utoipa::ToSchema> Route<R> {
    /// A JSON route answering 200 with an `R`.
    const fn json(
        method: Method,
        id: &'static str,
        path: &'static str,
        tag: &'static str,
        summary: &'static str,
    ) -> Route<R> {
        Route {
            def: RouteDef {
                id,
                method,
                path,
                tag,
                summary,
                params: &[],
                request: None,
                status: 200,
                response: Content::Json(json_schema::<R>),
                errors: &[],
                served_by: ServedBy::Handler,
            },
            response: PhantomData,
        }
    }
}

/// The body of a route that does not answer JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotJson;

impl Route<NotJson> {
    const fn other(
        id: &'static str,
        path: &'static str,
        tag: &'static str,
        summary: &'static str,
        response: Content,
    ) -> Route<NotJson> {
        Route {
            def: RouteDef {
                id,
                method: Method::Get,
                path,
                tag,
                summary,
                params: &[],
                request: None,
                status: 200,
                response,
                errors: &[],
                served_by: ServedBy::Handler,
            },
            response: PhantomData,
        }
    }
}

impl<R> Route<R> {
    const fn params(mut self, params: &'static [Param]) -> Self {
        self.def.params = params;
        self
    }
    const fn errors(mut self, errors: &'static [Errors]) -> Self {
        self.def.errors = errors;
        self
    }
    const fn request(mut self, content: Content) -> Self {
        self.def.request = Some(content);
        self
    }
    const fn status(mut self, status: u16) -> Self {
        self.def.status = status;
        self
    }
    const fn explorer(mut self) -> Self {
        self.def.served_by = ServedBy::Explorer;
        self
    }
}

/// A path argument of a request: anything displayed, shareable across threads (a client's
/// request future holds it).
pub type Arg<'a> = &'a (dyn Display + Sync);

/// A URL that could not be built from a route's definition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("{route} takes {expected} path arguments, {given} given")]
    PathArguments { route: &'static str, expected: usize, given: usize },
    #[error("{route} has no query parameter {name:?}")]
    UnknownQuery { route: &'static str, name: String },
}

impl RouteDef {
    /// The names of the path template's `{…}` segments, in order.
    pub fn path_names(&self) -> impl Iterator<Item = &'static str> {
        self.path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    }

    /// The path and query of a request: each `{…}` segment replaced by the next of `args`,
    /// then the query parameters that have a value. Refuses a wrong number of arguments and
    /// a query parameter the route does not declare.
    pub fn url_path(
        &self,
        args: &[Arg<'_>],
        query: &[(&str, Option<String>)],
    ) -> Result<String, RouteError> {
        let expected = self.path_names().count();
        if expected != args.len() {
            return Err(RouteError::PathArguments { route: self.id, expected, given: args.len() });
        }
        let mut args = args.iter();
        let mut out = String::new();
        for segment in self.path.split('/').skip(1) {
            out.push('/');
            if segment.starts_with('{') {
                if let Some(arg) = args.next() {
                    out.push_str(&arg.to_string());
                }
            } else {
                out.push_str(segment);
            }
        }
        let mut sep = '?';
        for (name, value) in query {
            if !self.params.iter().any(|p| p.at == In::Query && p.name == *name) {
                return Err(RouteError::UnknownQuery { route: self.id, name: name.to_string() });
            }
            if let Some(value) = value {
                out.push(sep);
                out.push_str(name);
                out.push('=');
                out.push_str(value);
                sep = '&';
            }
        }
        Ok(out)
    }

    /// Whether a request path (without its query) matches this route's template.
    pub fn matches(&self, path: &str) -> bool {
        let mut want = self.path.split('/');
        let mut got = path.split('/');
        loop {
            match (want.next(), got.next()) {
                (None, None) => return true,
                (Some(w), Some(g)) if w.starts_with('{') && !g.is_empty() => {}
                (Some(w), Some(g)) if w == g => {}
                _ => return false,
            }
        }
    }

    /// How many static segments the template has: a request matching several templates
    /// (`/v1/blocks/latest`, `/v1/blocks/{height}`) is served by the most static, as axum
    /// routes it.
    fn static_segments(&self) -> usize {
        self.path.split('/').filter(|s| !s.starts_with('{')).count()
    }
}

impl Display for RouteDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method.as_str(), self.path)
    }
}

/// The route a request goes to (`path` may carry a query), among the handler routes and
/// the explorer's; None for an address no route serves.
pub fn find(method: Method, path: &str) -> Option<&'static RouteDef> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    ALL.iter()
        .copied()
        .filter(|r| r.method == method && r.matches(path))
        .max_by_key(|r| r.static_segments())
}

// Parameter schemas.

fn integer() -> RefOr<Schema> {
    u64::schema()
}
fn text() -> RefOr<Schema> {
    String::schema()
}
fn hash() -> RefOr<Schema> {
    Hash::schema()
}
fn address() -> RefOr<Schema> {
    Address::schema()
}
fn boolean() -> RefOr<Schema> {
    string_schema("true or false (also 1 or 0; empty means true)", Some("^(true|false|1|0|)$"))
}
fn cell() -> RefOr<Schema> {
    string_schema("an H3 cell: 1 to 16 lowercase hex digits", Some("^[0-9a-f]{1,16}$"))
}
fn class() -> RefOr<Schema> {
    DeviceClass::schema()
}

const HEIGHT: Param = Param::path("height", integer, "a block height");
const HASH: Param = Param::path("hash", hash, "a hash, 64 lowercase hex digits");
const ID: Param = Param::path("id", hash, "an id, 64 lowercase hex digits");
const DEVICE_ID: Param = Param::path("id", hash, "a device id, 64 lowercase hex digits");
const ADDR: Param = Param::path("addr", address, "an account address (bech32m, cairn1…)");
const EPOCH: Param = Param::query("epoch", integer, "the epoch (default: the current one)");
const LIMIT: Param = Param::query("limit", integer, "the most items of the page");
const TX_PAGE: [Param; 2] = [
    Param::query("tx_offset", integer, "the first transaction of the page"),
    Param::query("tx_limit", integer, "the most transactions of the page (1 to 1000)"),
];
const REPORTS_QUERY: &[Param] = &[
    DEVICE_ID,
    EPOCH,
    Param::query("after", text, "the page's cursor, HEIGHT.TX.REPORT, from `next`"),
    LIMIT,
];

// Error lists.

const NOT_FOUND: Errors = Errors::listed(404, &["not_found"]);
const GONE: Errors = Errors::listed(410, &["needs_archive"]);
const BAD_QUERY: Errors = Errors::listed(400, &["bad_query"]);
const BAD_HASH: Errors = Errors::listed(400, &["bad_hash", "bad_path"]);
const BAD_ADDRESS: Errors = Errors::listed(400, &["bad_address", "bad_path"]);
const BAD_DEVICE: Errors = Errors::listed(400, &["bad_device_id", "bad_query", "bad_path"]);
const JSON_BODY: [Errors; 3] = [
    Errors::family(
        400,
        "`bad_json` (not JSON of the request's shape), or the stateless check's code of a refused transaction (`malformed_tx`, `bad_signature`, `wrong_chain`, …; docs/protocol.md)",
    ),
    Errors::listed(415, &["bad_json"]),
    Errors::listed(422, &["bad_json"]),
];
const REFUSED: [Errors; 3] = [
    Errors::listed(409, &["already_known", "replacement_underpriced"]),
    Errors::family(
        422,
        "the admission check's code of a refused transaction (`bad_nonce`, `insufficient_balance`, …; docs/protocol.md)",
    ),
    Errors::listed(503, &["mempool_full", "sender_limit"]),
];

/// Declares every route as a constant and lists them all in [`ALL`].
macro_rules! routes {
    ($($(#[doc = $doc:literal])* $name:ident: $resp:ty = $def:expr;)*) => {
        $($(#[doc = $doc])* pub const $name: Route<$resp> = $def;)*
        /// Every route, in the order the document lists them.
        pub const ALL: &[&RouteDef] = &[$(&$name.def),*];
    };
}

use Method::{Get, Post};

routes! {
    /// `GET /v1/health`
    HEALTH: HealthView = Route::json(Get, "health", "/v1/health", "chain", "Whether the node answers");
    /// `GET /v1/status`
    STATUS: StatusView = Route::json(Get, "status", "/v1/status", "chain", "The chain's head, state root and mempool size");
    /// `GET /v1/genesis`
    GENESIS: Genesis = Route::json(Get, "genesis", "/v1/genesis", "chain", "The genesis document");
    /// `GET /v1/params`
    PARAMS: Params = Route::json(Get, "params", "/v1/params", "chain", "The parameters in force");
    /// `GET /v1/entropy/{height}`
    ENTROPY: EntropyView = Route::json(Get, "entropy", "/v1/entropy/{height}", "chain", "The chain entropy of a recent block")
        .params(&[HEIGHT])
        .errors(&[Errors::listed(400, &["bad_height", "bad_path"]), NOT_FOUND, GONE]);
    /// `GET /v1/openapi.json`
    OPENAPI: crate::openapi::Document = Route::json(Get, "openapi", "/v1/openapi.json", "chain", "This document: the API in OpenAPI 3.1");
    /// `GET /metrics`
    METRICS: NotJson = Route::other("metrics", "/metrics", "chain", "Prometheus metrics",
        Content::Other { media_type: "application/openmetrics-text", description: "the metrics in the OpenMetrics text format" });
    /// `GET /v1/events`
    EVENTS: NotJson = Route::other("events", "/v1/events", "chain", "Live events, as server-sent events", Content::EventStream)
        .params(&[
            Param::query("topics", text, "comma-separated topics (block, rejection, rewards, governance); all when absent"),
            Param::query("last_event_id", integer, "resume after this event id"),
            Param::header("Last-Event-ID", integer, "resume after this event id (wins over the query)"),
        ])
        .errors(&[
            Errors::listed(400, &["bad_query", "bad_topic", "bad_last_event_id"]),
            Errors::listed(503, &["too_many_streams"]),
        ]);
    /// `POST /v1/dev/blocks`
    PRODUCE_BLOCK: ProducedView = Route::json(Post, "produce_block", "/v1/dev/blocks", "chain", "Make one block now (a node started with --blocks-on-demand)")
        .errors(&[NOT_FOUND]);

    /// `GET /v1/blocks`
    BLOCKS: BlockListView = Route::json(Get, "blocks", "/v1/blocks", "blocks", "The newest blocks first, paged")
        .params(&[Param::query("before", integer, "the newest height to list (default: the head)"), LIMIT])
        .errors(&[BAD_QUERY, GONE]);
    /// `GET /v1/blocks/latest`
    LATEST_BLOCK: BlockView = Route::json(Get, "latest_block", "/v1/blocks/latest", "blocks", "The newest block")
        .params(&TX_PAGE)
        .errors(&[BAD_QUERY, NOT_FOUND, GONE]);
    /// `GET /v1/blocks/hash/{hash}`
    BLOCK_BY_HASH: BlockView = Route::json(Get, "block_by_hash", "/v1/blocks/hash/{hash}", "blocks", "A block by its hash")
        .params(&[HASH, TX_PAGE[0], TX_PAGE[1]])
        .errors(&[Errors::listed(400, &["bad_hash", "bad_query", "bad_path"]), NOT_FOUND, GONE]);
    /// `GET /v1/blocks/{height}`
    BLOCK: BlockView = Route::json(Get, "block", "/v1/blocks/{height}", "blocks", "A block by its height")
        .params(&[HEIGHT, TX_PAGE[0], TX_PAGE[1]])
        .errors(&[Errors::listed(400, &["bad_height", "bad_query", "bad_path"]), NOT_FOUND, GONE]);
    /// `GET /v1/blocks/{height}/raw`
    RAW_BLOCK: RawBlockView = Route::json(Get, "raw_block", "/v1/blocks/{height}/raw", "blocks", "A block's canonical bytes, hex")
        .params(&[HEIGHT])
        .errors(&[Errors::listed(400, &["bad_height", "bad_path"]), NOT_FOUND, GONE]);
    /// `GET /v1/blocks/{height}/validators`
    BLOCK_VALIDATORS: BlockValidatorsView = Route::json(Get, "block_validators", "/v1/blocks/{height}/validators", "blocks", "The validator set that certifies a block, proven at its parent")
        .params(&[HEIGHT])
        .errors(&[Errors::listed(400, &["bad_height", "bad_path"]), NOT_FOUND, GONE]);

    /// `POST /v1/txs`
    SUBMIT_TX: SubmitTxResponse = Route::json(Post, "submit_tx", "/v1/txs", "txs", "Submit one signed transaction")
        .request(Content::Json(json_schema::<SubmitTxRequest>))
        .status(202)
        .errors(&[JSON_BODY[0], Errors::listed(413, &["tx_too_large", "body_too_large"]), JSON_BODY[1], JSON_BODY[2], REFUSED[0], REFUSED[1], REFUSED[2]]);
    /// `POST /v1/txs/batch`
    SUBMIT_BATCH: Vec<SubmitBatchItem> = Route::json(Post, "submit_batch", "/v1/txs/batch", "txs", "Submit many transactions; each is admitted or refused on its own")
        .request(Content::Json(json_schema::<SubmitBatchRequest>))
        .errors(&[Errors::listed(400, &["bad_json"]), Errors::listed(413, &["batch_too_large", "body_too_large"]), JSON_BODY[1], JSON_BODY[2]]);
    /// `POST /v1/txs/relay`
    RELAY: RelayResponse = Route::json(Post, "relay", "/v1/txs/relay", "txs", "Transactions a validator forwards to another")
        .request(Content::Other { media_type: "application/octet-stream", description: "the borsh encoding of a Vec<Vec<u8>> of canonical transaction bytes" })
        .errors(&[Errors::listed(400, &["malformed_batch"]), Errors::listed(413, &["batch_too_large", "body_too_large"])]);
    /// `GET /v1/txs/{hash}`
    TX: TxView = Route::json(Get, "tx", "/v1/txs/{hash}", "txs", "A transaction, pending or committed")
        .params(&[HASH])
        .errors(&[BAD_HASH, NOT_FOUND, GONE]);
    /// `GET /v1/receipts/{hash}`
    RECEIPT: Receipt = Route::json(Get, "receipt", "/v1/receipts/{hash}", "txs", "A committed transaction's receipt")
        .params(&[HASH])
        .errors(&[BAD_HASH, NOT_FOUND, GONE]);

    /// `GET /v1/accounts/{addr}`
    ACCOUNT: AccountView = Route::json(Get, "account", "/v1/accounts/{addr}", "accounts", "An account's balance and nonces, with a state proof on request")
        .params(&[ADDR, Param::query("prove", boolean, "add a proof against the state root")])
        .errors(&[Errors::listed(400, &["bad_address", "bad_query", "bad_path"]), GONE]);
    /// `GET /v1/credits/{addr}`
    CREDITS: CreditsView = Route::json(Get, "credits", "/v1/credits/{addr}", "accounts", "An account's data credits")
        .params(&[ADDR])
        .errors(&[BAD_ADDRESS]);
    /// `GET /v1/supply`
    SUPPLY: SupplyView = Route::json(Get, "supply", "/v1/supply", "accounts", "The token supply and where it sits");
    /// `GET /v1/oracles`
    ORACLES: OraclesView = Route::json(Get, "oracles", "/v1/oracles", "accounts", "The price oracles, their reports and the price in use");
    /// `GET /v1/validators`
    VALIDATORS: ValidatorsView = Route::json(Get, "validators", "/v1/validators", "staking", "Validator candidates and the next block's set");
    /// `GET /v1/validators/{addr}`
    VALIDATOR: ValidatorView = Route::json(Get, "validator", "/v1/validators/{addr}", "staking", "One validator candidate")
        .params(&[ADDR])
        .errors(&[BAD_ADDRESS, NOT_FOUND]);

    /// `GET /v1/channels/{id}`
    CHANNEL: crate::usage::Channel = Route::json(Get, "channel", "/v1/channels/{id}", "work", "A usage channel")
        .params(&[ID])
        .errors(&[BAD_HASH, NOT_FOUND]);
    /// `GET /v1/jobs/{id}`
    JOB: crate::compute::Job = Route::json(Get, "job", "/v1/jobs/{id}", "work", "A compute job")
        .params(&[ID])
        .errors(&[BAD_HASH, NOT_FOUND]);
    /// `GET /v1/deals/{id}`
    DEAL: crate::storage::Deal = Route::json(Get, "deal", "/v1/deals/{id}", "work", "A storage deal")
        .params(&[ID])
        .errors(&[BAD_HASH, NOT_FOUND]);

    /// `GET /v1/devices`
    DEVICES: DeviceListView = Route::json(Get, "devices", "/v1/devices", "devices", "A page of devices, filtered")
        .params(&[
            Param::query("owner", address, "only this owner's devices"),
            Param::query("class", class, "only devices of this class"),
            Param::query("cell", cell, "only devices located inside this H3 cell (resolution 12 or coarser)"),
            Param::query("after", text, "the page's cursor, from `next`"),
            LIMIT,
        ])
        .errors(&[BAD_QUERY]);
    /// `GET /v1/devices/{id}`
    DEVICE: DeviceView = Route::json(Get, "device", "/v1/devices/{id}", "devices", "A device with its state this epoch")
        .params(&[DEVICE_ID])
        .errors(&[BAD_DEVICE, NOT_FOUND]);
    /// `GET /v1/devices/{id}/reports`
    DEVICE_REPORTS: DeviceReportsView = Route::json(Get, "device_reports", "/v1/devices/{id}/reports", "devices", "A device's accepted reports in an epoch")
        .params(REPORTS_QUERY)
        .errors(&[BAD_DEVICE, GONE]);
    /// `GET /v1/devices/{id}/rejections`
    DEVICE_REJECTIONS: DeviceReportsView = Route::json(Get, "device_rejections", "/v1/devices/{id}/rejections", "devices", "A device's rejected reports in an epoch, with their reasons")
        .params(REPORTS_QUERY)
        .errors(&[BAD_DEVICE, GONE]);
    /// `GET /v1/devices/{id}/sensor`
    SENSOR: SensorView = Route::json(Get, "sensor", "/v1/devices/{id}/sensor", "devices", "A sensor's readings in an epoch and its quality score")
        .params(&[DEVICE_ID, EPOCH])
        .errors(&[BAD_DEVICE, GONE]);
    /// `GET /v1/devices/{id}/coverage`
    COVERAGE: CoverageView = Route::json(Get, "coverage", "/v1/devices/{id}/coverage", "devices", "A hotspot's beacons, witnesses and hex density in an epoch")
        .params(&[DEVICE_ID, EPOCH])
        .errors(&[BAD_DEVICE, GONE]);
    /// `GET /v1/stats/devices`
    DEVICE_STATS: DeviceStatsView = Route::json(Get, "device_stats", "/v1/stats/devices", "devices", "How many devices there are, by class and status");
    /// `GET /v1/map/devices`
    MAP_DEVICES: MapView = Route::json(Get, "map_devices", "/v1/map/devices", "devices", "Located devices for the map, paged")
        .params(&[Param::query("after", text, "the page's cursor, from `next`"), LIMIT])
        .errors(&[BAD_QUERY]);

    /// `GET /v1/epochs/{epoch}/rewards`
    EPOCH_REWARDS: EpochRewardsView = Route::json(Get, "epoch_rewards", "/v1/epochs/{epoch}/rewards", "rewards", "An epoch's reward summary and a page of its entries")
        .params(&[
            Param::path("epoch", integer, "the epoch"),
            Param::query("after", integer, "the page's cursor, from `next`"),
            LIMIT,
        ])
        .errors(&[Errors::listed(400, &["bad_path", "bad_query"]), NOT_FOUND, GONE]);
    /// `GET /v1/epochs/{epoch}/rewards/proof`
    REWARD_ROOT_PROOF: RewardRootProofView = Route::json(Get, "reward_root_proof", "/v1/epochs/{epoch}/rewards/proof", "rewards", "An epoch's reward root with its state proof")
        .params(&[Param::path("epoch", integer, "the epoch")])
        .errors(&[Errors::listed(400, &["bad_path"]), NOT_FOUND]);
    /// `GET /v1/devices/{id}/rewards`
    DEVICE_REWARDS: DeviceRewardView = Route::json(Get, "device_rewards", "/v1/devices/{id}/rewards", "rewards", "A device's reward line in an epoch, with its leaf's Merkle path")
        .params(&[DEVICE_ID, Param::required_query("epoch", integer, "the epoch")])
        .errors(&[BAD_DEVICE, NOT_FOUND, GONE]);
    /// `GET /v1/rewards/{owner}/claimable`
    CLAIMABLE: ClaimableView = Route::json(Get, "claimable", "/v1/rewards/{owner}/claimable", "rewards", "An owner's unclaimed reward leaves with their paths")
        .params(&[Param::path("owner", address, "the owner's address")])
        .errors(&[BAD_ADDRESS]);

    /// `GET /v1/gov/proposals`
    GOV_PROPOSALS: crate::gov::ProposalList = Route::json(Get, "gov_proposals", "/v1/gov/proposals", "gov", "Proposals, newest first, with their tallies so far")
        .params(&[Param::query("before", integer, "list proposals with ids below this"), Param::query("limit", integer, "the most proposals of the page (1 to 100)")])
        .errors(&[BAD_QUERY]);
    /// `GET /v1/gov/proposals/{id}`
    GOV_PROPOSAL: crate::gov::ProposalView = Route::json(Get, "gov_proposal", "/v1/gov/proposals/{id}", "gov", "One proposal with its tally so far")
        .params(&[Param::path("id", integer, "the proposal id")])
        .errors(&[Errors::listed(400, &["bad_proposal_id", "bad_path"]), NOT_FOUND]);
    /// `GET /v1/gov/positions/{addr}`
    GOV_POSITION: crate::gov::PositionView = Route::json(Get, "gov_position", "/v1/gov/positions/{addr}", "gov", "An account's lock, voting power and votes")
        .params(&[ADDR])
        .errors(&[BAD_ADDRESS]);

    /// `GET /`: the explorer.
    EXPLORER: NotJson = Route::other("explorer", "/", "explorer", "The explorer's page",
        Content::Other { media_type: "text/html", description: "the explorer's index.html" })
        .explorer();
    /// `GET /{page}`: an explorer page address (also with more segments after it).
    EXPLORER_PAGE: NotJson = Route::other("explorer_page", "/{page}", "explorer", "An explorer page address; it answers the explorer's index.html, which shows the page",
        Content::Other { media_type: "text/html", description: "the explorer's index.html" })
        .params(&[Param::path("page", explorer_page, "map, devices, blocks, txs, accounts, epochs, proposals or search")])
        .errors(&[NOT_FOUND])
        .explorer();
    /// `GET /assets/{file}`: the explorer's built files.
    EXPLORER_ASSET: NotJson = Route::other("explorer_asset", "/assets/{file}", "explorer", "A built file of the explorer (its name carries its content hash)",
        Content::Other { media_type: "*/*", description: "the file, with its media type" })
        .params(&[Param::path("file", text, "the file's name")])
        .errors(&[NOT_FOUND])
        .explorer();
}

fn explorer_page() -> RefOr<Schema> {
    let pattern = format!("^({})$", EXPLORER_PAGES.join("|"));
    string_schema("an explorer page", Some(&pattern))
}

/// The explorer's page addresses (first path segment) besides `/`; each answers the
/// explorer's `index.html`, whatever follows it.
pub const EXPLORER_PAGES: [&str; 8] =
    ["map", "devices", "blocks", "txs", "accounts", "epochs", "proposals", "search"];
