//! A coverage field: hotspots registered and located through transactions, beacons and
//! witnesses signed by the devices and submitted by a gateway in blocks the test makes one
//! at a time, so every threshold that counts blocks can be hit exactly (just inside, just
//! outside).

use crate::chain::genesis;
use crate::devices::{register, report, verdicts};
use crate::net::{Net, START};
use cairn_types::device::{RejectReason, beacon_data};
use cairn_types::{
    DeviceClass, DeviceId, DeviceSigner, Hash, Height, Keypair, ReportPayload, SignedReport,
    TxBody, TxStatus,
};
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
    pub net: Net,
    pub a: Keypair,
    pub b: Keypair,
    pub gateway: Keypair,
    seqs: BTreeMap<DeviceId, u64>,
    next_seed: u8,
    /// Where owner a's beaconer stands.
    pub home: CellIndex,
    pub beaconer: DeviceSigner,
}

impl Field {
    /// Starts the chain (epoch 0 lasts the whole test, coverage parameters as above) and
    /// registers the beaconer at home.
    pub fn start(label: &str) -> Field {
        let a = Keypair::from_label(&format!("{label}-a"));
        let b = Keypair::from_label(&format!("{label}-b"));
        let gateway = Keypair::from_label(&format!("{label}-gateway"));
        let mut g = genesis(&[&a, &b, &gateway], START);
        g.params.blocks_per_epoch = 1_000_000;
        let c = &mut g.params.coverage;
        c.entropy_max_age_blocks = ENTROPY_MAX_AGE;
        c.beacon_interval_blocks = BEACON_INTERVAL;
        c.min_witness_cells = MIN_CELLS;
        c.max_witness_cells = MAX_CELLS;
        c.witness_lag_blocks = WITNESS_LAG;
        c.witness_cap = WITNESS_CAP;
        c.reciprocity_blocks = RECIPROCITY;
        let home = LatLng::new(48.85, 2.35).expect("coordinates").to_cell(Resolution::Twelve);
        Field::on(Net::new(&g), a, b, gateway, home, 1)
    }

    /// A field on a chain the test set up (`a`, `b` and `gateway` funded): registers the
    /// beaconer of `a` at `home`; hotspots' keys come from seeds `first_seed` onwards.
    pub fn on(
        net: Net,
        a: Keypair,
        b: Keypair,
        gateway: Keypair,
        home: CellIndex,
        first_seed: u8,
    ) -> Field {
        let mut f = Field {
            net,
            a: a.clone(),
            b,
            gateway,
            seqs: BTreeMap::new(),
            next_seed: first_seed,
            home,
            beaconer: DeviceSigner::from_ed25519_seed([0; 32]),
        };
        f.beaconer = f.hotspot(&a, Some(u64::from(home)));
        f
    }

    /// Height of the last block.
    pub fn height(&self) -> Height {
        self.net.height()
    }

    /// Makes empty blocks until the next block will be `height`.
    pub fn advance_to(&mut self, height: Height) {
        self.net.advance_to(height)
    }

    /// Registers a hotspot of `owner` and asserts its location, in one block.
    pub fn hotspot(&mut self, owner: &Keypair, cell: Option<u64>) -> DeviceSigner {
        let dev = DeviceSigner::from_ed25519_seed([self.next_seed; 32]);
        self.next_seed += 1;
        let mut bodies = vec![register(&dev, owner, DeviceClass::Hotspot, 0, None)];
        if let Some(cell) = cell {
            bodies.push(TxBody::AssertLocation { device: dev.id(), cell });
        }
        for r in self.net.send(owner, bodies) {
            assert_eq!(r.status, TxStatus::Success, "{r:?}");
        }
        dev
    }

    /// A report of `dev` with its next sequence number, stamped with the last block's time.
    pub fn report(&mut self, dev: &DeviceSigner, payload: ReportPayload) -> SignedReport {
        let seq = self.seqs.entry(dev.id()).or_insert(0);
        *seq += 1;
        report(dev, *seq, 0, self.net.c.parent.timestamp_ms, payload)
    }

    /// The chain entropy recorded for block `height`.
    pub fn entropy(&self, height: Height) -> Hash {
        cairn_app::entropy_at(&self.net.c.store, height).unwrap().expect("entropy of that block")
    }

    /// A beacon of `dev` built from the entropy of block `entropy_height`.
    pub fn beacon_report(&mut self, dev: &DeviceSigner, entropy_height: Height) -> SignedReport {
        let entropy = self.entropy(entropy_height);
        let payload = ReportPayload::Beacon {
            entropy_height,
            data: beacon_data(&entropy, &dev.id()),
            frequency_khz: FREQ,
            tx_power_dbm: TX_DBM,
        };
        self.report(dev, payload)
    }

    /// `dev` beacons with the newest entropy; returns the height its beacon was accepted at.
    pub fn beacon(&mut self, dev: &DeviceSigner) -> Height {
        let head = self.height();
        let r = self.beacon_report(dev, head);
        let (h, accepted, rejected) = self.submit(vec![r]);
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
    pub fn witness_at(&mut self, k: u32) -> DeviceSigner {
        let cell = at_distance(self.home, k);
        let b = self.b.clone();
        let dev = self.hotspot(&b, Some(cell));
        self.beacon(&dev);
        dev
    }

    /// Submits one batch through the gateway in its own block. Returns the block height, the
    /// accepted count and the rejections (index, reason).
    pub fn submit(&mut self, batch: Vec<SignedReport>) -> (Height, u32, Vec<(u32, RejectReason)>) {
        let gw = self.gateway.clone();
        let r = self.net.run(&gw, TxBody::SubmitReports { reports: batch });
        let (accepted, rejected) = verdicts(&r);
        (r.height, accepted, rejected)
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
