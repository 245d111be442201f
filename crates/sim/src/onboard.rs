//! Onboarding: the funder pays every operator, consumer and gateway (through a tree of
//! distributor accounts, so no sender exceeds the mempool's per-sender limit), operators
//! register their devices and assert their cells, consumers buy data credits at the oracle
//! price and open storage deals, which the providers' owners accept. Attackers who are their own consumers (a storage inflater,
//! a self-dealer) buy their own credits, and a storage inflater opens its own deal.

use super::draw::{self, tag};
use super::engine::Sim;
use super::fleet::Behaviour;
use super::work::{
    CHANNEL_ESCROW, DealRun, JOB_PRICE, SELF_ESCROW, SELF_JOB_PRICE, SELF_JOBS, deal_file,
    inflated_deal,
};
use anyhow::{Context, bail};
use cairn_types::device::RegistrationConsent;
use cairn_types::device_key::DeviceId;
use cairn_types::storage::{chunk_root, chunks, deal_id};
use cairn_types::{
    Address, Amount, DeviceClass, Hash, Keypair, SignedTx, TxBody, UNITS_PER_CRN, format_crn,
};

/// Accounts one account funds in one block.
const FAN_OUT: usize = 200;
/// $10 a CRN, in nano-dollars: the price the simulator reports when its funder is an oracle.
const SIM_PRICE: u128 = 10_000_000_000;
/// Fee allowance per transaction an account will send, base units (generous: report
/// batches and storage answers are large).
const TX_FEE: Amount = 30_000;
/// Reports a device sends per heartbeat slot, on average, and bytes each costs in fees.
const REPORTS_PER_SLOT: u64 = 2;
const REPORT_BYTES: u64 = 160;
/// Reports an adversary sends per heartbeat slot, at most, as budgeted.
const ADVERSARY_REPORTS_PER_SLOT: u64 = 8;
/// Credits a consumer pays per epoch of a deal.
const DEAL_PRICE: u128 = 10;

/// The transaction that opens a deal of `chunks` chunks under `root`: the one place that
/// knows the deal format (honest consumers and the storage inflater both use it).
fn open_deal_body(device: DeviceId, root: Hash, chunks: u64, duration_epochs: u64) -> TxBody {
    TxBody::OpenDeal { device, root, chunks, duration_epochs, price_per_epoch: DEAL_PRICE }
}

/// What funding the fleet takes from the funder, by purpose.
#[derive(Debug, Clone, Default)]
pub struct Budget {
    pub bonds: Amount,
    pub fees: Amount,
    pub credits: Amount,
    pub total: Amount,
}

impl Sim {
    /// Onboards the fleet for a run of up to `epochs` epochs; `done` counts transactions.
    pub async fn onboard(
        &mut self,
        epochs: u64,
        mut done: impl FnMut(usize, usize),
    ) -> anyhow::Result<Budget> {
        let client = self.net.client.clone();
        if let Some(d) = self.fleet.devices.first()
            && client.device(&d.id).await.is_ok()
        {
            bail!(
                "the devices of seed {} are already registered on this chain; use another --seed or a fresh chain",
                self.fleet.spec.seed
            );
        }
        let funder = self.funder.clone();
        self.net.load_nonce(&funder.address()).await?;
        // Data credits: at a fresh oracle price, or at one the funder reports as an oracle
        // whose report alone makes the price (`credits.min_oracles` = 1).
        let oracles = client.oracles().await?;
        let funder_is_oracle = self.net.params.credits.min_oracles <= 1
            && oracles.oracles.iter().any(|(a, _)| *a == funder.address());
        let price = if funder_is_oracle { Some(SIM_PRICE) } else { oracles.nano_usd_per_crn };
        self.credits = price.is_some();
        if price.is_none() {
            self.warnings.push(
                "no fresh oracle price and the funder is not an oracle: storage deals, compute jobs and usage channels are left out"
                    .into(),
            );
        }
        let (amounts, budget) = self.budget(epochs, price);
        let balance = client.account(&funder.address(), false).await?.balance;
        if balance < budget.total {
            bail!(
                "the funder {} holds {} CRN; this fleet needs {} CRN ({} in bonds, {} in fees, {} for data credits)",
                funder.address(),
                format_crn(balance),
                format_crn(budget.total),
                format_crn(budget.bonds),
                format_crn(budget.fees),
                format_crn(budget.credits)
            );
        }
        let regs = 2 * self.fleet.devices.len()
            + self.fleet.consumers.len()
            + self.fleet.devices.len() / 5;
        let total = amounts.len() * 2 + regs;
        let mut sent = 0;
        let mut report = |n: usize| {
            sent += n;
            done(sent, total);
        };
        let mut first = Vec::new();
        if funder_is_oracle {
            first.push(self.net.sign(&funder, TxBody::ReportPrice { nano_usd_per_crn: SIM_PRICE }));
        }
        self.fund(amounts, first, &mut report).await?;
        // Devices registered and located, the honest fleet first: adversaries join a
        // network that is already running (a copier registers after the sensor it copies).
        // Consumers buy credits.
        let chain = self.net.chain_id.clone();
        let mut items: Vec<(Keypair, TxBody)> = Vec::new();
        let mut later: Vec<(Keypair, TxBody)> = Vec::new();
        // Self-dealing operators' own credit purchases: (operator, position in `later`).
        let mut own_mints: Vec<(usize, usize)> = Vec::new();
        for d in &self.fleet.devices {
            let items = if d.honest() { &mut items } else { &mut later };
            let owner = self.fleet.operators[d.owner].clone();
            let consent = RegistrationConsent { owner: owner.address(), device_nonce: 0 };
            let device_signature = d.signer.sign(&consent.signing_message(&chain))?;
            let body = TxBody::RegisterDevice {
                key: d.signer.public_key(),
                class: d.class,
                metadata: Vec::new(),
                device_nonce: 0,
                device_signature,
                maker: None,
            };
            items.push((owner.clone(), body));
            items.push((owner, TxBody::AssertLocation { device: d.id, cell: d.cell }));
        }
        if let Some(price) = price.filter(|_| self.credits) {
            let per = self.credits_per_consumer(epochs);
            let value = self.net.params.credits.credit_value_nano_usd;
            let crn = credits_to_crn(per, price, value);
            for c in self.fleet.consumers.clone() {
                items.push((c.clone(), TxBody::MintCredits { to: c.address(), amount: crn }));
            }
            for o in 0..self.fleet.operators.len() {
                let own = self.own_credits(o, epochs);
                if own > 0 {
                    let key = self.fleet.operators[o].clone();
                    let amount = credits_to_crn(own, price, value);
                    if self
                        .fleet
                        .owned_by(o)
                        .any(|(_, d)| d.behaviour == Some(Behaviour::SelfDealer))
                    {
                        own_mints.push((o, later.len()));
                    }
                    later.push((key.clone(), TxBody::MintCredits { to: key.address(), amount }));
                }
            }
        }
        let mut signed_later = Vec::new();
        for (i, batch) in [items, later].into_iter().enumerate() {
            let txs = self.net.sign_many(batch.iter().map(|(k, b)| (k, b.clone())).collect());
            self.net.commit_all(&txs, "registering devices", &mut report).await?;
            if i == 1 {
                signed_later = txs;
            }
        }
        self.read_cost_basis(&own_mints, &signed_later).await?;
        if self.credits {
            self.open_deals(epochs, &mut report).await?;
        }
        for d in [self.fleet.devices.first(), self.fleet.devices.last()].into_iter().flatten() {
            let view = client.device(&d.id).await.context("reading back a registered device")?;
            if view.device.location != Some(d.cell) {
                bail!(
                    "device {} has location {:?}, expected {}",
                    d.id,
                    view.device.location,
                    d.cell
                );
            }
        }
        Ok(budget)
    }

    /// What each self-dealing operator paid for its credits, from the node: the CRN its
    /// `MintCredits` burned (the receipt says it succeeded) and the credits it then holds,
    /// before it spends any. The tally values the credits its made-up work consumed at
    /// that rate (docs/fraud.md: a self-dealer's fraud paid is its net gain).
    async fn read_cost_basis(
        &mut self,
        own_mints: &[(usize, usize)],
        txs: &[SignedTx],
    ) -> anyhow::Result<()> {
        let mut mints: Vec<(usize, Hash, Amount)> = Vec::new();
        for &(o, i) in own_mints {
            if let Some(tx) = txs.get(i)
                && let TxBody::MintCredits { amount, .. } = tx.tx.body
            {
                mints.push((o, tx.hash(), amount));
            }
        }
        let hashes: Vec<Hash> = mints.iter().map(|m| m.1).collect();
        let receipts = self.net.receipts(&hashes).await?;
        for ((o, _, amount), r) in mints.into_iter().zip(receipts) {
            if !r.is_success() {
                continue;
            }
            let addr = self.fleet.operators[o].address();
            let credits = self.net.client.credits(&addr).await?.credits;
            let basis = self.tally.cost_basis.entry(o).or_default();
            basis.0 = basis.0.saturating_add(amount);
            basis.1 = credits;
        }
        Ok(())
    }

    /// Credits a consumer needs: its deals, its jobs and channels over `epochs`, twice over
    /// (escrows overlap across epoch boundaries).
    fn credits_per_consumer(&self, epochs: u64) -> u128 {
        let count =
            |c: DeviceClass| self.fleet.devices.iter().filter(|d| d.class == c).count() as u128;
        let consumers = self.fleet.consumers.len().max(1) as u128;
        let deals = count(DeviceClass::Storage) * 10 * u128::from(epochs + 2);
        let jobs = count(DeviceClass::Compute) * JOB_PRICE * u128::from(epochs);
        let channels =
            (count(DeviceClass::Relay) + count(DeviceClass::Energy)) * CHANNEL_ESCROW * 2;
        2 * (deals + jobs + channels) / consumers + 1_000
    }

    /// Credits operator `o` buys for itself over `epochs`, twice over: a storage inflater's
    /// deal, a self-dealer's channels and jobs. Nothing for anyone else.
    fn own_credits(&self, o: usize, epochs: u64) -> u128 {
        let e = u128::from(epochs + 2);
        let per_device = |(_, d): (usize, &super::fleet::Device)| match (d.behaviour, d.class) {
            (Some(Behaviour::StorageInflater), _) => DEAL_PRICE * e,
            (Some(Behaviour::SelfDealer), DeviceClass::Compute) => {
                SELF_JOBS as u128 * SELF_JOB_PRICE * e
            }
            (Some(Behaviour::SelfDealer), _) => SELF_ESCROW * e,
            _ => 0,
        };
        2 * self.fleet.owned_by(o).map(per_device).sum::<u128>()
    }

    /// What every account needs, and the total.
    fn budget(&self, epochs: u64, price: Option<u128>) -> (Vec<(Address, Amount)>, Budget) {
        let p = &self.net.params;
        let mut b = Budget::default();
        let mut out = Vec::new();
        let per_device_fees = 2 * TX_FEE + p.devices.location_fee + u128::from(epochs) * 2 * TX_FEE;
        for (o, key) in self.fleet.operators.iter().enumerate() {
            let mut need = UNITS_PER_CRN;
            for (_, d) in self.fleet.owned_by(o) {
                let bond = p.devices.bonds.get(d.class);
                b.bonds += bond;
                need += bond + per_device_fees;
                if d.behaviour == Some(Behaviour::SelfDealer) {
                    // Each epoch: a job's post, take, commit and reveal, or a channel's two.
                    need += u128::from(epochs + 2) * 4 * SELF_JOBS as u128 * TX_FEE;
                }
            }
            b.fees += need - UNITS_PER_CRN;
            // Its own credits, and the fee of buying them.
            let credits = self.own_credits(o, epochs);
            let own = match price {
                Some(pr) if credits > 0 => {
                    credits_to_crn(credits, pr, p.credits.credit_value_nano_usd) + TX_FEE
                }
                _ => 0,
            };
            b.credits += own;
            out.push((key.address(), need + own));
        }
        let credit_crn = price.map_or(0, |pr| {
            credits_to_crn(self.credits_per_consumer(epochs), pr, p.credits.credit_value_nano_usd)
        });
        for c in &self.fleet.consumers {
            let fees = UNITS_PER_CRN + u128::from(epochs + 2) * 4_000 * TX_FEE / 100;
            b.credits += credit_crn;
            b.fees += fees;
            out.push((c.address(), credit_crn + fees));
        }
        let reports = self.fleet.devices.len() as u128
            * u128::from(p.devices.heartbeat_slots)
            * u128::from(REPORTS_PER_SLOT)
            * u128::from(epochs + 2);
        // Each gateway may carry its whole stream in a tick: each is funded for a stream.
        let per_gateway = reports * (u128::from(REPORT_BYTES) * p.fee_per_byte + 10)
            / super::fleet::HONEST_GATEWAYS as u128
            + UNITS_PER_CRN;
        // The adversaries' streams carry more per device (made-up witnesses, copies,
        // replays): each of their gateways is funded for ADVERSARY_REPORTS_PER_SLOT an
        // adversary.
        let adversaries = self.fleet.devices.iter().filter(|d| !d.honest()).count() as u128;
        let per_adversary_gateway = (adversaries
            * u128::from(p.devices.heartbeat_slots)
            * u128::from(ADVERSARY_REPORTS_PER_SLOT)
            * u128::from(epochs + 2)
            * (u128::from(REPORT_BYTES) * p.fee_per_byte + 10)
            + UNITS_PER_CRN)
            .max(per_gateway);
        let first_adversarial = super::fleet::HONEST_GATEWAYS * super::fleet::GATEWAYS_PER_STREAM;
        for (i, g) in self.fleet.gateways.iter().enumerate() {
            let amount = if i >= first_adversarial { per_adversary_gateway } else { per_gateway };
            b.fees += amount;
            out.push((g.address(), amount));
        }
        b.total = b.bonds + b.fees + b.credits;
        // Distributors' own fees.
        b.total += (out.len() / FAN_OUT + 1) as u128 * (FAN_OUT as u128 + 1) * TX_FEE;
        (out, b)
    }

    /// Pays `amounts` from the funder, through levels of distributors when there are more
    /// than [`FAN_OUT`]. `first` goes ahead of the funder's transfers.
    async fn fund(
        &mut self,
        amounts: Vec<(Address, Amount)>,
        first: Vec<SignedTx>,
        report: &mut impl FnMut(usize),
    ) -> anyhow::Result<()> {
        // levels[0] are the accounts; each next level funds the one below.
        let mut levels: Vec<Vec<(Address, Amount)>> = vec![amounts];
        let mut keys: Vec<Vec<Keypair>> = Vec::new();
        while levels.last().is_some_and(|l| l.len() > FAN_OUT) {
            let below = levels.last().cloned().unwrap_or_default();
            let level = keys.len() as u64;
            let parents: Vec<Keypair> = (0..below.len().div_ceil(FAN_OUT))
                .map(|i| {
                    let s = &self.fleet.spec;
                    Keypair::from_secret(draw::bytes32(&[
                        tag::KEY,
                        s.seed,
                        s.salt,
                        4 + level,
                        i as u64,
                    ]))
                })
                .collect();
            let amounts = parents
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    let children = below.iter().skip(i * FAN_OUT).take(FAN_OUT);
                    let sum: Amount = children.map(|(_, a)| *a).sum();
                    (k.address(), sum + (FAN_OUT as Amount + 1) * TX_FEE)
                })
                .collect();
            keys.push(parents);
            levels.push(amounts);
        }
        // From the top: the funder pays the top level, each level the one below.
        let top = levels.len() - 1;
        let funder = self.funder.clone();
        let mut txs = first;
        let items: Vec<(&Keypair, TxBody)> = levels[top]
            .iter()
            .map(|(to, amount)| (&funder, TxBody::Transfer { to: *to, amount: *amount }))
            .collect();
        txs.extend(self.net.sign_many(items));
        self.net.commit_all(&txs, "funding the fleet", &mut *report).await?;
        for l in (0..top).rev() {
            let payers = &keys[l];
            let items: Vec<(&Keypair, TxBody)> = levels[l]
                .iter()
                .enumerate()
                .map(|(i, (to, amount))| {
                    (&payers[i / FAN_OUT], TxBody::Transfer { to: *to, amount: *amount })
                })
                .collect();
            let txs = self.net.sign_many(items);
            self.net.commit_all(&txs, "funding the fleet", &mut *report).await?;
        }
        Ok(())
    }

    /// One deal per storage device, for the run and two epochs more.
    async fn open_deals(
        &mut self,
        epochs: u64,
        report: &mut impl FnMut(usize),
    ) -> anyhow::Result<()> {
        let chunk_size = u64::from(self.net.params.storage.chunk_size.max(1));
        let duration = (epochs + 2).min(self.net.params.storage.max_duration_epochs).max(1);
        // The largest deal the chain accepts.
        let max_bytes = self.net.params.storage.max_deal_bytes;
        let seed = self.fleet.spec.seed;
        let mut txs = Vec::new();
        let mut runs = Vec::new();
        let storage: Vec<usize> = (0..self.fleet.devices.len())
            .filter(|&d| self.fleet.devices[d].class == DeviceClass::Storage)
            .collect();
        for (k, d) in storage.into_iter().enumerate() {
            // A storage inflater is its own consumer, with a deal of one chunk repeated.
            let inflated = self.fleet.devices[d].behaviour == Some(Behaviour::StorageInflater);
            let (consumer, size, root) = if inflated {
                let deal = inflated_deal(seed, runs.len(), chunk_size, max_bytes);
                (
                    self.fleet.operators[self.fleet.devices[d].owner].clone(),
                    deal.size,
                    deal.tree.root(),
                )
            } else {
                let consumer = self.fleet.consumers[k % self.fleet.consumers.len()].clone();
                let size = chunk_size * (4 + draw::mix(&[tag::FILE, seed, k as u64]) % 9);
                let file = deal_file(seed, runs.len(), size);
                (consumer, size, chunk_root(&chunks(&file, chunk_size as usize)))
            };
            let id = deal_id(&consumer.address(), self.net.next_nonce(&consumer));
            let body = open_deal_body(self.fleet.devices[d].id, root, size / chunk_size, duration);
            txs.push(self.net.sign(&consumer, body));
            runs.push(DealRun {
                device: d,
                id,
                size,
                first_epoch: 0,
                last_epoch: 0,
                answered: None,
                inflated,
            });
        }
        self.net.commit_all(&txs, "opening storage deals", &mut *report).await?;
        // Each provider's owner takes its deal on; a deal's epochs start after that.
        let owners: Vec<Keypair> = runs
            .iter()
            .map(|r| self.fleet.operators[self.fleet.devices[r.device].owner].clone())
            .collect();
        let accepts = self.net.sign_many(
            runs.iter().zip(&owners).map(|(r, k)| (k, TxBody::AcceptDeal { deal: r.id })).collect(),
        );
        let before = self.net.head().await?;
        self.net.commit_all(&accepts, "accepting storage deals", &mut *report).await?;
        let after = self.net.head().await?;
        let bpe = self.blocks_per_epoch();
        for r in &mut runs {
            let first = if (before + 1) / bpe == after / bpe {
                after / bpe + 1
            } else {
                self.net.client.deal(&r.id).await?.first_epoch
            };
            r.first_epoch = first;
            r.last_epoch = first + duration - 1;
        }
        self.deals = runs;
        Ok(())
    }
}

/// CRN (base units) to burn for `credits` at `price` nano-dollars a CRN, rounded up.
pub fn credits_to_crn(credits: u128, price: u128, credit_value_nano_usd: u128) -> Amount {
    (credits.saturating_mul(UNITS_PER_CRN).saturating_mul(credit_value_nano_usd))
        .div_ceil(price.max(1))
        + 1
}
