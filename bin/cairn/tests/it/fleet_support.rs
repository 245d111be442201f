//! A small mixed fleet on a node that makes blocks on demand, run epoch by epoch: hotspots
//! of two owners beacon in turn and witness each other, sensors read, everyone heartbeats,
//! and a storage provider answers its deal's challenge every epoch. Used by the reward
//! tests.

use crate::device_support::now_ms;
use crate::harness::{NodeBuilder, crn};
use crate::on_demand::OnDemand;
use cairn_testkit::coverage::{FREQ, TX_DBM, WEAK, at_distance};
use cairn_types::device::{Report, ReportPayload, SignedReport, beacon_data};
use cairn_types::device_key::{DeviceId, DeviceSigner};
use cairn_types::storage::{chunk_proof, chunk_root, chunks, deal_id};
use cairn_types::{DeviceClass, Hash, Height, Keypair, TxBody};
use std::collections::BTreeMap;

/// Blocks per epoch (one heartbeat slot per block).
pub const EPOCH: u64 = 10;
const HOTSPOTS: usize = 4;
const SENSORS: usize = 3;

pub struct Fleet {
    pub c: OnDemand,
    pub a: Keypair,
    gateway: Keypair,
    hotspots: Vec<DeviceSigner>,
    sensors: Vec<DeviceSigner>,
    storage: DeviceSigner,
    deal: Hash,
    file: Vec<u8>,
    chunk_size: usize,
    seqs: BTreeMap<DeviceId, u64>,
    /// The last accepted beacon: (hotspot index, height).
    last_beacon: Option<(usize, Height)>,
    answered_epoch: Option<u64>,
}

impl Fleet {
    pub async fn start(label: &str) -> Fleet {
        Fleet::start_settling(label, 0).await
    }

    /// [`Fleet::start`] on a chain that settles each reward run `delay` blocks after its
    /// boundary.
    pub async fn start_settling(label: &str, delay: u64) -> Fleet {
        Fleet::start_spread(label, delay, None).await
    }

    /// [`Fleet::start_settling`], each block settling at least `share` entries of a run
    /// (`reward_settle_entries_per_block`; `None`: a new chain's).
    pub async fn start_spread(label: &str, delay: u64, share: Option<u64>) -> Fleet {
        Fleet::start_with(label, delay, share, &[]).await
    }

    /// [`Fleet::start_spread`] on a node started with `node_args` too.
    pub async fn start_with(
        label: &str,
        delay: u64,
        share: Option<u64>,
        node_args: &[&str],
    ) -> Fleet {
        let a = Keypair::from_label(&format!("{label}-a"));
        let b = Keypair::from_label(&format!("{label}-b"));
        let gateway = Keypair::from_label(&format!("{label}-gateway"));
        let builder = NodeBuilder::new()
            .node_args(node_args)
            .blocks_per_epoch(EPOCH)
            .reward_settle_delay(delay)
            .fund(a.address(), crn(1_000))
            .fund(b.address(), crn(1_000))
            .fund(gateway.address(), crn(1_000))
            .oracle(b.address())
            .edit_genesis(move |g| {
                g["params"]["coverage"]["beacon_interval_blocks"] = 1.into();
                // The cold-start probation follows: two beacon intervals and the witness lag.
                g["params"]["fraud"]["probation_blocks"] = 12.into();
                g["params"]["storage"]["response_blocks"] = 5.into();
                if let Some(share) = share {
                    g["params"]["reward_settle_entries_per_block"] = share.into();
                }
            });
        let mut c = OnDemand::start(builder).await;
        c.buy_credits(&b, crn(10)).await;
        let home = h3o::LatLng::new(48.85, 2.35).unwrap().to_cell(h3o::Resolution::Twelve);
        let mut hotspots = Vec::new();
        let mut sensors = Vec::new();
        for i in 0..HOTSPOTS {
            let owner = if i % 2 == 0 { a.clone() } else { b.clone() };
            let dev = c.device(&owner, DeviceClass::Hotspot, 10 + i as u8).await;
            let cell = at_distance(home, 10 * (i as u32 + 1));
            c.ok(&owner, TxBody::AssertLocation { device: dev.id(), cell }).await;
            hotspots.push(dev);
        }
        for i in 0..SENSORS {
            let dev = c.device(&b, DeviceClass::Sensor, 30 + i as u8).await;
            let cell = at_distance(home, 3 * i as u32);
            c.ok(&b, TxBody::AssertLocation { device: dev.id(), cell }).await;
            sensors.push(dev);
        }
        let storage = c.device(&a, DeviceClass::Storage, 40).await;
        let chunk_size = c.node.client().params().await.unwrap().storage.chunk_size as usize;
        let file: Vec<u8> = (0..4 * chunk_size).map(|i| (i % 253) as u8).collect();
        let nonce = c.next_nonce(&b);
        let open = TxBody::OpenDeal {
            device: storage.id(),
            root: chunk_root(&chunks(&file, chunk_size)),
            chunks: 4,
            duration_epochs: 1_000,
            price_per_epoch: 1,
        };
        c.ok(&b, open).await;
        let deal = deal_id(&b.address(), nonce);
        c.ok(&a, TxBody::AcceptDeal { deal }).await;
        Fleet {
            c,
            a,
            gateway,
            hotspots,
            sensors,
            storage,
            deal,
            file,
            chunk_size,
            seqs: BTreeMap::new(),
            last_beacon: None,
            answered_epoch: None,
        }
    }

    fn report(&mut self, dev: &DeviceSigner, epoch: u64, payload: ReportPayload) -> SignedReport {
        let seq = self.seqs.entry(dev.id()).or_insert(0);
        *seq += 1;
        let report =
            Report { device: dev.public_key(), seq: *seq, epoch, timestamp_ms: now_ms(), payload };
        let signature = dev.sign(&report.signing_message(&self.c.chain)).unwrap();
        SignedReport { report, signature }
    }

    /// One block of fleet traffic.
    pub async fn block(&mut self) {
        let head = self.c.height().await;
        let h = head + 1;
        let epoch = h / EPOCH;
        let mut batch = Vec::new();
        let all: Vec<DeviceSigner> =
            self.hotspots.iter().chain(&self.sensors).chain([&self.storage]).cloned().collect();
        for dev in &all {
            batch.push(self.report(dev, epoch, ReportPayload::Heartbeat { uptime_secs: h }));
        }
        // Hotspot k = h mod 4 beacons; the two of the other owner witness the last beacon.
        let k = (h as usize) % self.hotspots.len();
        let entropy = self.c.node.client().entropy(head).await.unwrap();
        let dev = self.hotspots[k].clone();
        let beacon = ReportPayload::Beacon {
            entropy_height: head,
            data: beacon_data(&entropy, &dev.id()),
            frequency_khz: FREQ,
            tx_power_dbm: TX_DBM,
        };
        batch.push(self.report(&dev, epoch, beacon));
        if let Some((j, bh)) = self.last_beacon {
            for w in (0..self.hotspots.len()).filter(|w| w % 2 != j % 2) {
                let wd = self.hotspots[w].clone();
                let p = ReportPayload::Witness {
                    beaconer: self.hotspots[j].id(),
                    beacon_height: bh,
                    rssi_cdbm: WEAK,
                    frequency_khz: FREQ,
                };
                batch.push(self.report(&wd, epoch, p));
            }
        }
        let sensors = self.sensors.clone();
        for (i, s) in sensors.iter().enumerate() {
            let value = 21_000 + 100 * i as i64 + (h % 7) as i64;
            batch.push(self.report(s, epoch, ReportPayload::Reading { value }));
        }
        let gw = self.gateway.clone();
        let mut txs = vec![(gw, TxBody::SubmitReports { reports: batch })];
        let deal = self.c.node.client().deal(&self.deal).await.unwrap();
        if let Some(ch) = deal.challenge.filter(|ch| self.answered_epoch != Some(ch.epoch)) {
            let parts = chunks(&self.file, self.chunk_size);
            let answer = TxBody::ProveStorage {
                deal: self.deal,
                index: ch.index,
                chunk: parts[ch.index as usize].to_vec(),
                path: chunk_proof(&parts, ch.index).unwrap(),
            };
            self.answered_epoch = Some(ch.epoch);
            txs.push((self.a.clone(), answer));
        }
        let receipts = self.c.send_many(txs).await;
        for r in &receipts {
            assert!(r.is_success(), "{r:?}");
        }
        self.last_beacon = Some((k, h));
    }

    /// Runs traffic until the head is at `height`.
    pub async fn run_to(&mut self, height: Height) {
        while self.c.height().await < height {
            self.block().await;
        }
    }
}
