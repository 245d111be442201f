//! Devices with their own keys: registration with the device's consent (and a maker's
//! attestation), reports of every kind signed by the device, and typed reads of receipts,
//! report verdicts and per-device state.

use crate::chain::CHAIN;
use cairn_app::devices::{EpochActivity, get_activity};
use cairn_state::MemStore;
use cairn_types::device::{
    MakerAttestation, RegistrationConsent, RejectReason, ReportRejection, maker_message,
};
use cairn_types::{
    Address, DeviceClass, DeviceId, DeviceKey, DeviceSignature, DeviceSigner, Keypair, Receipt,
    Report, ReportPayload, SignedReport, TxBody, TxFailure, TxOutcome, TxStatus,
};

/// The metadata every registration here carries.
pub const METADATA: &[u8] = b"model=x1";

pub fn ed_device(seed: u8) -> DeviceSigner {
    DeviceSigner::from_ed25519_seed([seed; 32])
}

/// `dev`'s consent to be registered by `owner` at `device_nonce`.
pub fn consent(dev: &DeviceSigner, owner: &Address, device_nonce: u64) -> DeviceSignature {
    dev.sign(&RegistrationConsent { owner: *owner, device_nonce }.signing_message(CHAIN)).unwrap()
}

/// A registration of `dev` for `owner`, with the device's consent for `owner`.
pub fn register(
    dev: &DeviceSigner,
    owner: &Keypair,
    class: DeviceClass,
    device_nonce: u64,
    maker: Option<MakerAttestation>,
) -> TxBody {
    TxBody::RegisterDevice {
        key: dev.public_key(),
        class,
        metadata: METADATA.to_vec(),
        device_nonce,
        device_signature: consent(dev, &owner.address(), device_nonce),
        maker,
    }
}

/// `maker`'s attestation that it made the device with `key` under `serial`.
pub fn attest(maker: &Keypair, key: &DeviceKey, serial: &str) -> MakerAttestation {
    MakerAttestation {
        maker: maker.address(),
        serial: serial.to_string(),
        signature: maker.sign_raw(&maker_message(CHAIN, key, serial)),
    }
}

/// A report of `dev`, signed by it.
pub fn report(
    dev: &DeviceSigner,
    seq: u64,
    epoch: u64,
    timestamp_ms: u64,
    payload: ReportPayload,
) -> SignedReport {
    let report = Report { device: dev.public_key(), seq, epoch, timestamp_ms, payload };
    let signature = dev.sign(&report.signing_message(CHAIN)).unwrap();
    SignedReport { report, signature }
}

pub fn heartbeat(dev: &DeviceSigner, seq: u64, epoch: u64, timestamp_ms: u64) -> SignedReport {
    report(dev, seq, epoch, timestamp_ms, ReportPayload::Heartbeat { uptime_secs: seq * 60 })
}

/// A sensor reading of `value` (thousandths) by `dev`.
pub fn reading(
    dev: &DeviceSigner,
    seq: u64,
    epoch: u64,
    timestamp_ms: u64,
    value: i64,
) -> SignedReport {
    report(dev, seq, epoch, timestamp_ms, ReportPayload::Reading { value })
}

pub fn failure(r: &Receipt) -> &TxFailure {
    match &r.status {
        TxStatus::Failed { error } => error,
        TxStatus::Success => panic!("expected a failed receipt, got success: {r:?}"),
    }
}

/// (accepted, rejections) of a receipt of `SubmitReports`.
pub fn reports_outcome(r: &Receipt) -> (u32, Vec<ReportRejection>) {
    match &r.outcome {
        TxOutcome::Reports { accepted, rejected } => (*accepted, rejected.clone()),
        other => panic!("expected a reports outcome, got {other:?}"),
    }
}

/// (accepted, [(index, reason)]) of a receipt of `SubmitReports`.
pub fn verdicts(r: &Receipt) -> (u32, Vec<(u32, RejectReason)>) {
    let (accepted, rejected) = reports_outcome(r);
    (accepted, rejected.into_iter().map(|x| (x.index, x.reason)).collect())
}

/// The sequence number of `id`'s last accepted report.
pub fn last_seq(store: &MemStore, id: &DeviceId) -> u64 {
    cairn_app::devices::folded::last_seq(store, id).unwrap().unwrap_or(0)
}

/// `id`'s activity record of `epoch`.
pub fn activity(store: &MemStore, id: &DeviceId, epoch: u64) -> EpochActivity {
    get_activity(store, id, epoch).unwrap()
}
