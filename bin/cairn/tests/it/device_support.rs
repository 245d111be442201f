//! Device plumbing shared by the device tests: key files made by `cairn device keygen`,
//! registration bodies and reports signed in Rust, receipts printed by the CLI, and typed
//! reads of devices through the API.

use crate::harness::{CliOutput, FAR_EXPIRY, Node, min_fee_of};
use cairn_types::api::{DeviceReportsView, DeviceView};
use cairn_types::device::{RegistrationConsent, Report, ReportPayload, SignedReport};
use cairn_types::device_key::{DeviceId, DeviceKey, DeviceSigner};
use cairn_types::{Address, TxStatus};
use cairn_types::{Amount, DeviceClass, Keypair, Params, Receipt, SignedTx, Transaction, TxBody};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// Current Unix time in milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis() as u64
}

/// `key` signs `body` at `nonce`, paying exactly the minimum fee for its size.
pub fn signed(chain_id: &str, key: &Keypair, nonce: u64, body: TxBody) -> SignedTx {
    Transaction {
        chain_id: chain_id.to_string(),
        signer: key.address(),
        nonce,
        max_fee: 0,
        expiry_height: FAR_EXPIRY,
        body,
    }
    .sign_with_min_fee(key, &Params::default())
}

/// A registration body for `device`, owned by `owner`, whose consent is signed by
/// `consent_signer` (normally the device itself).
pub fn register_body(
    chain_id: &str,
    owner: Address,
    device: &DeviceKey,
    consent_signer: &DeviceSigner,
    class: DeviceClass,
    device_nonce: u64,
) -> TxBody {
    let consent = RegistrationConsent { owner, device_nonce };
    let device_signature =
        consent_signer.sign(&consent.signing_message(chain_id)).expect("signing the consent");
    TxBody::RegisterDevice {
        key: *device,
        class,
        metadata: Vec::new(),
        device_nonce,
        device_signature,
        maker: None,
    }
}

/// A heartbeat of `device`, signed by `signer` (normally the device itself).
pub fn heartbeat(
    chain_id: &str,
    device: &DeviceKey,
    signer: &DeviceSigner,
    seq: u64,
    epoch: u64,
    timestamp_ms: u64,
) -> SignedReport {
    let report = Report {
        device: *device,
        seq,
        epoch,
        timestamp_ms,
        payload: ReportPayload::Heartbeat { uptime_secs: seq * 60 },
    };
    let signature = signer.sign(&report.signing_message(chain_id)).expect("signing a report");
    SignedReport { report, signature }
}

/// A device key file written by `cairn device keygen`, with the signer read back from it.
pub struct KeyFile {
    pub path: PathBuf,
    pub public: DeviceKey,
    pub id: DeviceId,
    pub signer: DeviceSigner,
}

impl KeyFile {
    /// The file's path as a CLI argument.
    pub fn arg(&self) -> &str {
        self.path.to_str().expect("utf-8 temp path")
    }
}

/// Runs `cairn --json device keygen --out DIR/NAME.json [--p256]` and reads the key back;
/// checks that the printed key and id match the file and each other.
pub fn keygen(node: &Node, name: &str, p256: bool) -> KeyFile {
    let path = node.dir().join("devices").join(format!("{name}.json"));
    let path_arg = path.to_str().expect("utf-8 temp path");
    let mut args = vec!["--json", "device", "keygen", "--out", path_arg];
    if p256 {
        args.push("--p256");
    }
    let printed = node.cli(&args).success().json();
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("reading the key file"))
            .expect("key file is JSON");
    let signer = DeviceSigner::from_secret_string(file["secret"].as_str().expect("secret"))
        .expect("secret in the key file");
    let public = signer.public_key();
    assert_eq!(public.kind(), if p256 { "p256" } else { "ed25519" });
    assert_eq!(printed["public"], public.to_string(), "keygen printed another key");
    assert_eq!(printed["id"], public.id().to_string(), "keygen printed another id");
    assert_eq!(file["public"], public.to_string());
    assert_eq!(file["id"], public.id().to_string());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("key file metadata").permissions().mode();
        assert_eq!(mode & 0o077, 0, "device key file is readable by others: {mode:o}");
    }
    KeyFile { path, id: public.id(), public, signer }
}

/// The receipt a `--json` transaction command printed (also when the body failed).
pub fn receipt_of(out: &CliOutput) -> Receipt {
    let v = out.json();
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("not a receipt ({e}): {v}"))
}

/// The receipt of a `--json` transaction command that must have succeeded.
pub fn success_receipt(out: CliOutput) -> Receipt {
    let r = receipt_of(&out.success());
    assert_eq!(r.status, TxStatus::Success, "{r:?}");
    r
}

/// The failure code of a `--json` transaction command whose body must have failed: the
/// command exits non-zero, prints the failed receipt, and names the code on stderr.
pub fn failure_code(out: CliOutput) -> (Receipt, String) {
    assert!(!out.status.success(), "command succeeded: {}", out.stdout);
    let r = receipt_of(&out);
    let TxStatus::Failed { error } = &r.status else { panic!("receipt is not a failure: {r:?}") };
    let code = error.code().to_string();
    assert!(out.stderr.contains(&code), "stderr does not name {code}: {}", out.stderr);
    (r, code)
}

/// The fee a committed transaction paid, checked to be the minimum for its size.
pub async fn min_fee_paid(node: &Node, r: &Receipt) -> Amount {
    let v = node.client().tx(&r.tx_hash).await.expect("committed tx");
    let stx = SignedTx { tx: v.tx, signature: v.signature };
    assert_eq!(stx.hash(), r.tx_hash);
    assert_eq!(r.fee_paid, min_fee_of(&stx), "the CLI paid more than the minimum fee");
    r.fee_paid
}

/// `GET /v1/devices/{id}`.
pub async fn device(node: &Node, id: &DeviceId) -> DeviceView {
    node.client().device(id).await.unwrap_or_else(|e| panic!("device {id}: {e}"))
}

/// Whether the node answers 404 `not_found` for device `id`.
pub async fn device_is_unknown(node: &Node, id: &DeviceId) -> bool {
    match node.client().device(id).await {
        Err(e) => {
            assert!(e.is_not_found(), "device {id}: unexpected error {e}");
            true
        }
        Ok(_) => false,
    }
}

/// `GET /v1/devices/{id}/reports?epoch=` (or `/rejections` when `rejected`), all pages.
pub async fn reports(node: &Node, id: &DeviceId, epoch: u64, rejected: bool) -> DeviceReportsView {
    let client = node.client();
    let mut first =
        client.device_reports(id, Some(epoch), rejected, None).await.expect("device reports");
    let mut next = first.next.take();
    let mut pages = 0;
    while let Some(after) = next {
        pages += 1;
        assert!(pages < 100, "report paging does not end");
        let mut page = client
            .device_reports(id, Some(epoch), rejected, Some(&after))
            .await
            .expect("device reports page");
        first.reports.append(&mut page.reports);
        next = page.next;
    }
    first
}

/// The chain's parameters now in force.
pub async fn params(node: &Node) -> Params {
    node.client().params().await.expect("params")
}
