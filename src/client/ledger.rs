//! [`KeyLedger`]: which keys of a stream were acknowledged, and which were reported new, as one
//! bit per key index (a stream of millions of keys takes a few hundred KiB). The stream's
//! workers share one ledger and lock it once per answer.

/// Per key index: acknowledged at least once? reported new? A bit set each.
#[derive(Debug, Default, Clone)]
pub struct KeyLedger {
    acked: Vec<u64>,
    reported_new: Vec<u64>,
    /// Keys reported new by a second answer.
    pub new_twice: u64,
}

impl KeyLedger {
    /// Distinct keys acknowledged.
    pub fn distinct_acked(&self) -> u64 {
        self.acked
            .iter()
            .map(|word| u64::from(word.count_ones()))
            .sum()
    }

    /// Indexes of the keys acknowledged, in order.
    pub fn acked_indexes(&self) -> impl Iterator<Item = u64> + '_ {
        self.acked.iter().enumerate().flat_map(|(word, bits)| {
            (0..64u64)
                .filter(move |bit| bits & (1 << bit) != 0)
                .map(move |bit| word as u64 * 64 + bit)
        })
    }

    /// Key `key` was acknowledged.
    pub fn ack(&mut self, key: u64) {
        set_bit(&mut self.acked, key);
    }

    /// An answer reported key `key` new.
    pub fn mark_new(&mut self, key: u64) {
        if set_bit(&mut self.reported_new, key) {
            self.new_twice += 1;
        }
    }
}

/// Sets bit `index`; returns whether it was already set.
fn set_bit(bits: &mut Vec<u64>, index: u64) -> bool {
    let (word, mask) = ((index / 64) as usize, 1u64 << (index % 64));
    if bits.len() <= word {
        bits.resize(word + 1, 0);
    }
    let was_set = bits[word] & mask != 0;
    bits[word] |= mask;
    was_set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_counts_distinct_keys_and_double_news() {
        let mut ledger = KeyLedger::default();
        for key in [0, 1, 1, 64, 200, 0] {
            ledger.ack(key);
        }
        ledger.mark_new(1);
        ledger.mark_new(200);
        ledger.mark_new(1);
        assert_eq!(ledger.distinct_acked(), 4);
        assert_eq!(ledger.new_twice, 1);
        assert_eq!(ledger.acked_indexes().collect::<Vec<_>>(), [0, 1, 64, 200]);
    }
}
