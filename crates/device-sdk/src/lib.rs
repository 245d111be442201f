//! The Cairn device SDK: everything a device (or its gateway) signs, in the exact bytes the
//! chain accepts, without the standard library.
//!
//! `#![no_std]` with `alloc` (encodings are `Vec<u8>`, a maker's serial a `String`); its only
//! dependencies are `ed25519-dalek`, `p256` (ECDSA) and `sha2`, all without their `std`
//! features. It has no features to turn off: `cargo build -p cairn-device-sdk
//! --no-default-features` builds the same `no_std` crate.
//!
//! * [`keys`]: device keys from a seed — ed25519 ([`DeviceSigner::ed25519_from_seed`]) or
//!   P-256 ([`DeviceSigner::p256_from_secret`], [`DeviceSigner::p256_from_seed`], or
//!   [`DeviceSigner::p256_from_pkcs8`] for a `cairn device keygen --p256` key) — device
//!   ids, signatures, and account keys ([`AccountKey`]).
//! * [`report`]: every report kind ([`ReportPayload`]), signed into a [`SignedReport`].
//! * [`registration`]: the device's [`RegistrationConsent`], a maker's
//!   [`MakerAttestation`], the [`RegisterDevice`] body.
//! * [`usage`]: a consumer's [`UsageReceipt`].
//! * [`tx`]: the transactions that carry these (report batches, registrations, channel
//!   settlements), signed and encoded for `POST /v1/txs`.
//! * [`wire`]: the encoding rules and the domain tags.
//!
//! The tests compare every object byte for byte with the node's own types (`cairn-types`),
//! check that the node verifies the SDK's signatures, and rebuild every entry of the
//! published test vectors (`docs/vectors/`) that the SDK can build.
//!
//! # Example: a hotspot signs a heartbeat, its gateway sends it
//!
//! ```
//! use cairn_device_sdk::{AccountKey, DeviceSigner, Report, ReportPayload, Transaction, TxBody};
//!
//! // The device: a P-256 key (as in a secure element), or `DeviceSigner::ed25519_from_seed`.
//! let device = DeviceSigner::p256_from_seed([7; 32])?;
//! let report = Report {
//!     device: device.public_key(),
//!     seq: 1,                         // above the last accepted seq of this device
//!     epoch: 3,                       // the current epoch
//!     timestamp_ms: 1_700_000_000_000,
//!     payload: ReportPayload::Heartbeat { uptime_secs: 3_600 },
//! };
//! let signed = report.sign(&device, "cairn-devnet")?;
//! let from_device: Vec<u8> = signed.encode(); // what the device sends its gateway
//! assert_eq!(from_device.len(), 66 + 24 + 9 + 65);
//!
//! // The gateway: any funded account relays reports in a transaction.
//! let gateway = AccountKey::from_seed([1; 32]);
//! let stx = Transaction {
//!     chain_id: "cairn-devnet".into(),
//!     signer: gateway.address(),
//!     nonce: 0,                       // the gateway account's nonce
//!     max_fee: 0,
//!     expiry_height: u64::MAX,
//!     body: TxBody::SubmitReports { reports: vec![signed] },
//! }
//! .sign_with_min_fee(&gateway, 1_000, 10); // the chain's base_fee and fee_per_byte
//! let bytes = stx.encode(); // POST /v1/txs {"tx": hex(bytes)}
//! assert_eq!(stx.tx.max_fee, 1_000 + 10 * bytes.len() as u128);
//! # Ok::<(), cairn_device_sdk::KeyError>(())
//! ```
//!
//! `examples/gateway.rs` is a complete gateway: it reads signed reports from devices (hex
//! lines on stdin, or devices it simulates from seeds), registers simulated devices if
//! asked, and submits the reports to a node. `examples/device.rs` is a device's side: it
//! signs one report from a seed and prints its bytes, for the gateway to read:
//!
//! ```text
//! cargo run -p cairn-device-sdk --example device -- --chain cairn-devnet --seed <hex> --seq 2 \
//!   | cargo run -p cairn-device-sdk --example gateway -- --seed <gateway account seed hex>
//! ```

#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod keys;
pub mod registration;
pub mod report;
pub mod tx;
pub mod usage;
pub mod wire;

pub use keys::{
    AccountKey, Address, DeviceId, DeviceKey, DeviceSignature, DeviceSigner, Hash, KeyError,
};
pub use registration::{DeviceClass, MakerAttestation, RegisterDevice, RegistrationConsent};
pub use report::{Report, ReportPayload, SignedReport, beacon_data};
pub use tx::{SignedTx, Transaction, TxBody};
pub use usage::{SignedUsageReceipt, UsageReceipt};
pub use wire::{DecodeError, Reader, Writer};
