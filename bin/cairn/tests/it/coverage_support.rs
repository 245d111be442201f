//! A coverage field on a running node that makes blocks on demand: hotspots registered and
//! located through transactions, beacons and witnesses signed in Rust and submitted through
//! the API, so every threshold that counts blocks can be hit exactly (just inside, just
//! outside). Every rejection is also read back from `/v1/devices/{id}/rejections`.

use crate::device_support::reports;
use crate::harness::{NodeBuilder, crn};
use crate::on_demand::OnDemand;
use cairn_types::device::{RejectReason, Report, ReportPayload, SignedReport, beacon_data};
use cairn_types::device_key::{DeviceId, DeviceSigner};
use cairn_types::{DeviceClass, Height, Keypair, Receipt, TxBody, TxOutcome, TxStatus};
use h3o::{CellIndex, LatLng, Resolution};
use std::collections::BTreeMap;

/// Beacon frequency (kHz) and transmit power (dBm) of every hotspot here.
pub const FREQ: u32 = 868_100;
pub const TX_DBM: i16 = 14;
/// −120 dBm: weaker than free space allows at any distance used here.
pub const WEAK: i32 = -12_000;

/// The coverage parameters of the field's chain (the rest are the defaults).
pub const ENTROPY_MAX_AGE: u64 = 4;
pub const BEACON_INTERVAL: u64 = 3;
pub const MIN_CELLS: u64 = 8;
pub const MAX_CELLS: u64 = 20;
pub const WITNESS_LAG: u64 = 3;
pub const WITNESS_CAP: u32 = 2;
pub const RECIPROCITY: u64 = 8;

/// One owner's hotspots beacon; the other owner's hotspots witness them.
pub struct Field {
    pub chain: OnDemand,
    pub a: Keypair,
    pub b: Keypair,
    gateway: Keypair,
    seqs: BTreeMap<DeviceId, u64>,
    next_seed: u8,
    /// Where owner a's beaconer stands.
    pub home: CellIndex,
    pub beaconer: DeviceSigner,
}

impl Field {
    /// Starts the node (epoch 0 lasts the whole test) and registers the beaconer at home.
    pub async fn start(label: &str) -> Field {
        let a = Keypair::from_label(&format!("{label}-a"));
        let b = Keypair::from_label(&format!("{label}-b"));
        let gateway = Keypair::from_label(&format!("{label}-gateway"));
        let builder = NodeBuilder::new()
            .blocks_per_epoch(1_000_000)
            .fund(a.address(), crn(1_000))
            .fund(b.address(), crn(1_000))
            .fund(gateway.address(), crn(100))
            .edit_genesis(|g| {
                let c = &mut g["params"]["coverage"];
                c["entropy_max_age_blocks"] = ENTROPY_MAX_AGE.into();
                c["beacon_interval_blocks"] = BEACON_INTERVAL.into();
                c["min_witness_cells"] = MIN_CELLS.into();
                c["max_witness_cells"] = MAX_CELLS.into();
                c["witness_lag_blocks"] = WITNESS_LAG.into();
                c["witness_cap"] = WITNESS_CAP.into();
                c["reciprocity_blocks"] = RECIPROCITY.into();
            });
        let chain = OnDemand::start(builder).await;
        let home = LatLng::new(48.85, 2.35).expect("coordinates").to_cell(Resolution::Twelve);
        let mut f = Field {
            chain,
            a: a.clone(),
            b,
            gateway,
            seqs: BTreeMap::new(),
            next_seed: 1,
            home,
            beaconer: DeviceSigner::from_ed25519_seed([0; 32]),
        };
        f.beaconer = f.hotspot(&a, Some(u64::from(home))).await;
        f
    }

    pub fn node(&self) -> &crate::harness::Node {
        &self.chain.node
    }

    /// Height of the last block.
    pub async fn height(&self) -> Height {
        self.chain.height().await
    }

    /// Makes empty blocks until the next block will be `height`.
    pub async fn advance_to(&self, height: Height) {
        self.chain.advance_to(height).await
    }

    async fn send(&mut self, from: &Keypair, bodies: Vec<TxBody>) -> Vec<Receipt> {
        self.chain.send(from, bodies).await
    }

    /// Registers a hotspot of `owner` and asserts its location, in one block.
    pub async fn hotspot(&mut self, owner: &Keypair, cell: Option<u64>) -> DeviceSigner {
        let dev = DeviceSigner::from_ed25519_seed([self.next_seed; 32]);
        self.next_seed += 1;
        let mut bodies = vec![crate::device_support::register_body(
            &self.chain.chain,
            owner.address(),
            &dev.public_key(),
            &dev,
            DeviceClass::Hotspot,
            0,
        )];
        if let Some(cell) = cell {
            bodies.push(TxBody::AssertLocation { device: dev.id(), cell });
        }
        for r in self.send(owner, bodies).await {
            assert_eq!(r.status, TxStatus::Success, "{r:?}");
        }
        dev
    }

    /// A report of `dev` with its next sequence number.
    pub fn report(&mut self, dev: &DeviceSigner, payload: ReportPayload) -> SignedReport {
        let seq = self.seqs.entry(dev.id()).or_insert(0);
        *seq += 1;
        let report = Report {
            device: dev.public_key(),
            seq: *seq,
            epoch: 0,
            timestamp_ms: crate::device_support::now_ms(),
            payload,
        };
        let signature = dev.sign(&report.signing_message(&self.chain.chain)).expect("signing");
        SignedReport { report, signature }
    }

    /// A beacon of `dev` built from the entropy of block `entropy_height`.
    pub async fn beacon_report(
        &mut self,
        dev: &DeviceSigner,
        entropy_height: Height,
    ) -> SignedReport {
        let entropy = self.node().client().entropy(entropy_height).await.expect("entropy");
        let payload = ReportPayload::Beacon {
            entropy_height,
            data: beacon_data(&entropy, &dev.id()),
            frequency_khz: FREQ,
            tx_power_dbm: TX_DBM,
        };
        self.report(dev, payload)
    }

    /// `dev` beacons with the newest entropy; returns the height its beacon was accepted at.
    pub async fn beacon(&mut self, dev: &DeviceSigner) -> Height {
        let head = self.height().await;
        let r = self.beacon_report(dev, head).await;
        let (h, accepted, rejected) = self.submit(vec![r]).await;
        assert_eq!((accepted, rejected), (1, vec![]), "the beacon was not accepted");
        h
    }

    /// A witness by `dev` of the beaconer's beacon at `beacon_height`.
    pub fn witness(
        &mut self,
        dev: &DeviceSigner,
        beacon_height: Height,
        rssi_cdbm: i32,
        frequency_khz: u32,
    ) -> SignedReport {
        let payload = ReportPayload::Witness {
            beaconer: self.beaconer.id(),
            beacon_height,
            rssi_cdbm,
            frequency_khz,
        };
        self.report(dev, payload)
    }

    /// A hotspot of owner b exactly `k` resolution-11 cells from home that has beaconed (so
    /// it passes the reciprocity check).
    pub async fn witness_at(&mut self, k: u32) -> DeviceSigner {
        let cell = at_distance(self.home, k);
        let b = self.b.clone();
        let dev = self.hotspot(&b, Some(cell)).await;
        self.beacon(&dev).await;
        dev
    }

    /// Submits one batch through the gateway in its own block. Returns the block height, the
    /// accepted count and the rejections (index, reason); each rejection is also checked to
    /// be listed under `/v1/devices/{id}/rejections` with the same reason.
    pub async fn submit(
        &mut self,
        batch: Vec<SignedReport>,
    ) -> (Height, u32, Vec<(u32, RejectReason)>) {
        let gw = self.gateway.clone();
        let r = self.send(&gw, vec![TxBody::SubmitReports { reports: batch }]).await.remove(0);
        let TxOutcome::Reports { accepted, rejected } = r.outcome else { panic!("{r:?}") };
        for x in &rejected {
            let listed = reports(self.node(), &x.device, 0, true).await;
            let found =
                listed.reports.iter().find(|v| v.height == r.height && v.report.seq == x.seq);
            let found = found.unwrap_or_else(|| panic!("rejection {x:?} not listed by the API"));
            assert_eq!(found.reason.as_ref(), Some(&x.reason), "the API shows another reason");
        }
        (r.height, accepted, rejected.into_iter().map(|x| (x.index, x.reason)).collect())
    }
}

/// A resolution-12 cell exactly `k` resolution-11 cells from `home`.
pub fn at_distance(home: CellIndex, k: u32) -> u64 {
    let p = home.parent(Resolution::Eleven).expect("resolution 11 parent");
    let cell = p
        .grid_disk_distances::<Vec<_>>(k)
        .into_iter()
        .find(|(_, d)| *d == k)
        .map(|(c, _)| c)
        .expect("a cell at that distance");
    u64::from(cell.center_child(Resolution::Twelve).expect("resolution 12 child"))
}
