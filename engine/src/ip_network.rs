//! [`IpNetwork`]: an entry of a REST bridge service's `require_ip`.

use std::net::IpAddr;

/// An IP network of `require_ip`: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    address: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    /// The network of `text`: `192.168.1.0/24`, `::1`, `10.1.2.3` (a
    /// single address). Like Python's `ip_network`, host bits set after
    /// the prefix are an error.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().map_err(|_| {
            format!("\"{text}\" is not an IP address or network (\"10.0.0.0/8\", \"::1\")")
        })?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) if address.is_ipv4() && p.contains('.') => netmask_length(p)
                .ok_or_else(|| format!("\"{text}\": \"{p}\" is not a netmask (255.255.255.0)"))?,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= bits => p,
                _ => return Err(format!("\"{text}\": the prefix length must be 0-{bits}")),
            },
        };
        let network = Self { address, prefix };
        if network.masked(address) != address {
            return Err(format!(
                "\"{text}\" has host bits set: write the network's first address"
            ));
        }
        Ok(network)
    }

    /// Whether `address` is in this network (an IPv4-mapped IPv6 address
    /// counts as the IPv4 address).
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        address.is_ipv4() == self.address.is_ipv4() && self.masked(address) == self.address
    }

    /// `address` with the bits after the prefix cleared.
    fn masked(&self, address: IpAddr) -> IpAddr {
        match address {
            IpAddr::V4(v4) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4((u32::from(v4) & mask).into())
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(v6) & mask).into())
            }
        }
    }
}

/// The prefix length of an IPv4 netmask (`255.255.255.0`: 24), as
/// Python's `ip_network` takes one after the `/`.
fn netmask_length(text: &str) -> Option<u8> {
    let mask = u32::from(text.parse::<std::net::Ipv4Addr>().ok()?);
    let length = mask.leading_ones();
    (mask.checked_shl(length).unwrap_or(0) == 0).then(|| u8::try_from(length).ok())?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        let net = IpNetwork::parse("192.168.1.0/24").unwrap_or_else(|e| panic!("{e}"));
        assert!(net.contains(ip("192.168.1.77")));
        assert!(net.contains(ip("::ffff:192.168.1.1")));
        assert!(!net.contains(ip("192.168.2.1")));
        assert!(!net.contains(ip("::1")));
        let one = IpNetwork::parse("127.0.0.1").unwrap_or_else(|e| panic!("{e}"));
        assert!(one.contains(ip("127.0.0.1")));
        assert!(!one.contains(ip("127.0.0.2")));
        let masked =
            IpNetwork::parse("192.168.1.0/255.255.255.0").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(masked, net);
        let all = IpNetwork::parse("0.0.0.0/0").unwrap_or_else(|e| panic!("{e}"));
        assert!(all.contains(ip("8.8.8.8")));
        let v6 = IpNetwork::parse("fd00::/8").unwrap_or_else(|e| panic!("{e}"));
        assert!(v6.contains(ip("fd12::1")));
        assert!(!v6.contains(ip("fe80::1")));
    }

    #[test]
    fn bad_networks_are_refused_with_a_reason() {
        for (text, why) in [
            ("10.0.0.1/8", "host bits"),
            ("10.0.0.0/33", "0-32"),
            ("::/129", "0-128"),
            ("localhost", "not an IP"),
            ("10.0.0.0/", "prefix"),
            ("10.0.0.0/255.0.255.0", "not a netmask"),
        ] {
            let e = IpNetwork::parse(text).err().unwrap_or_default();
            assert!(e.contains(why), "{text}: {e}");
        }
    }
}
