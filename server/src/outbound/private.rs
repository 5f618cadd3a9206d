//! Which internal addresses outbound calls may reach: the `allow_private_network` setting.
//!
//! `false` (the default): none, only public unicast addresses. `true`: every address, internal
//! ones included, EXCEPT the cloud metadata endpoints. A comma-separated list of CIDR ranges
//! (`127.0.0.0/8,10.1.0.0/16,::1/128`): public addresses plus those ranges.
//!
//! A cloud metadata endpoint (169.254.169.254 and the others in [`METADATA`]) hands out the host's
//! cloud credentials, so it is reached only when a range names that address exactly (a /32 or
//! /128 of it): a wider range that happens to contain it (169.254.0.0/16, fd00::/8) does not open
//! it, and neither does `true`. The same holds for the address written inside an IPv6 one
//! (IPv4-mapped, IPv4-compatible, NAT64 and 6to4 forms).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Cloud metadata endpoints: opened only by a range that names the address exactly.
pub const METADATA: &[IpAddr] = &[
    // AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle, Hetzner…: the instance metadata service.
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    // AWS ECS task metadata and credentials.
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 2)),
    // AWS EKS Pod Identity agent.
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 23)),
    // Tencent Cloud metadata.
    IpAddr::V4(Ipv4Addr::new(169, 254, 0, 23)),
    // Alibaba Cloud metadata.
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
    // Oracle Cloud's older metadata address.
    IpAddr::V4(Ipv4Addr::new(192, 0, 0, 192)),
    // AWS instance metadata over IPv6 (Nitro).
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
    // AWS EKS Pod Identity agent over IPv6.
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23)),
    // GCP metadata over IPv6.
    IpAddr::V6(Ipv6Addr::new(0xfd20, 0xce, 0, 0, 0, 0, 0, 0x254)),
];

/// One CIDR range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `10.1.0.0/16`, `::1/128`, or an address alone (a /32 or /128). Host bits must be zero.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let net: IpAddr =
            addr.parse().map_err(|_| format!("`{text}` is not a CIDR range like 10.1.0.0/16 or ::1/128"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{text}`: the prefix length must be a number from 0 to {max}"))?,
        };
        let cidr = Cidr { net, prefix };
        if cidr.first() != net {
            return Err(format!("`{text}` has bits set past its /{prefix}; did you mean {}/{prefix}?", cidr.first()));
        }
        Ok(cidr)
    }

    fn bits(ip: IpAddr) -> (u128, u32) {
        match ip {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
            IpAddr::V6(v6) => (u128::from(v6), 128),
        }
    }

    fn mask(&self) -> u128 {
        let (_, width) = Self::bits(self.net);
        let host = width - u32::from(self.prefix);
        let all = if width == 32 { u128::from(u32::MAX) } else { u128::MAX };
        if host >= 128 {
            0
        } else {
            all & !((1u128 << host) - 1)
        }
    }

    fn first(&self) -> IpAddr {
        let (n, _) = Self::bits(self.net);
        let n = n & self.mask();
        match self.net {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(n as u32)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        if ip.is_ipv4() != self.net.is_ipv4() {
            return false;
        }
        let (a, _) = Self::bits(ip);
        let (n, _) = Self::bits(self.net);
        a & self.mask() == n & self.mask()
    }

    /// Whether the range is exactly the one address `ip`.
    fn is_exactly(&self, ip: IpAddr) -> bool {
        self.net == ip && u32::from(self.prefix) == Self::bits(ip).1
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// The `allow_private_network` setting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PrivateNetwork {
    /// Public addresses only.
    #[default]
    Off,
    /// Every address but the cloud metadata endpoints.
    All,
    /// Public addresses and these ranges.
    Ranges(Vec<Cidr>),
}

impl From<bool> for PrivateNetwork {
    fn from(all: bool) -> Self {
        if all {
            PrivateNetwork::All
        } else {
            PrivateNetwork::Off
        }
    }
}

/// The IPv4 address written inside an IPv6 one (mapped, compatible, NAT64, 6to4), if any.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let o = v6.octets();
    let tail = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if s[..6] == [0, 0, 0, 0, 0, 0xffff] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(tail);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] && !v6.is_loopback() && !v6.is_unspecified() {
        return Some(tail);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    None
}

/// The metadata endpoint `ip` is (or carries inside it), if any.
pub fn metadata_address(ip: IpAddr) -> Option<IpAddr> {
    let found = |a: IpAddr| METADATA.contains(&a).then_some(a);
    match ip {
        IpAddr::V4(_) => found(ip),
        IpAddr::V6(v6) => found(ip).or_else(|| embedded_v4(v6).and_then(|v4| found(IpAddr::V4(v4)))),
    }
}

impl PrivateNetwork {
    /// `true`/`false` (and 1/0, yes/no, on/off), or a comma-separated list of CIDR ranges.
    pub fn parse(text: &str) -> Result<PrivateNetwork, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => return Ok(PrivateNetwork::All),
            "false" | "0" | "no" | "off" | "" => return Ok(PrivateNetwork::Off),
            _ => {}
        }
        let ranges =
            text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(Cidr::parse).collect::<Result<Vec<_>, _>>()?;
        Ok(PrivateNetwork::Ranges(ranges))
    }

    /// Whether outbound calls may connect to `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        // IPv4-mapped addresses are matched as the IPv4 address they are.
        let canonical = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if let Some(meta) = metadata_address(ip) {
            return match self {
                PrivateNetwork::Ranges(ranges) => ranges.iter().any(|r| r.is_exactly(meta) || r.is_exactly(ip)),
                _ => false,
            };
        }
        match self {
            PrivateNetwork::Off => !super::is_forbidden_ip(ip),
            PrivateNetwork::All => true,
            PrivateNetwork::Ranges(ranges) => {
                !super::is_forbidden_ip(ip) || ranges.iter().any(|r| r.contains(ip) || r.contains(canonical))
            }
        }
    }
}
