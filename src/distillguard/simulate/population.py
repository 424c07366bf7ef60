"""The distributions every account's identity and infrastructure are drawn from.

Attackers and legitimate users share these distributions; a group differs only where its scenario
knobs say so (shared payment, shared user agent, a datacenter pool, a reseller's egress addresses).
"""

from __future__ import annotations

from collections.abc import Sequence
from random import Random

COUNTRIES = (
    ("US", 30),
    ("IN", 9),
    ("GB", 6),
    ("DE", 6),
    ("BR", 4),
    ("FR", 4),
    ("JP", 4),
    ("CA", 4),
    ("SG", 3),
    ("KR", 3),
    ("AU", 3),
    ("NL", 2),
    ("ES", 2),
    ("IT", 2),
    ("MX", 2),
    ("PL", 2),
    ("SE", 1),
    ("CH", 1),
    ("IL", 1),
    ("ID", 2),
    ("VN", 1),
    ("NG", 1),
    ("KE", 1),
    ("AE", 1),
    ("TR", 1),
    ("PH", 1),
    ("TW", 1),
)
TZ_OF = {
    "US": (-8, -7, -6, -5),
    "IN": (5.5,),
    "GB": (0,),
    "DE": (1,),
    "BR": (-3,),
    "FR": (1,),
    "JP": (9,),
    "CA": (-8, -5),
    "SG": (8,),
    "KR": (9,),
    "AU": (10, 8),
    "NL": (1,),
    "ES": (1,),
    "IT": (1,),
    "MX": (-6,),
    "PL": (1,),
    "SE": (1,),
    "CH": (1,),
    "IL": (2,),
    "ID": (7,),
    "VN": (7,),
    "NG": (1,),
    "KE": (3,),
    "AE": (4,),
    "TR": (3,),
    "PH": (8,),
    "TW": (8,),
}
CONSUMER_MAIL = (
    ("gmail.com", 45),
    ("outlook.com", 10),
    ("yahoo.com", 6),
    ("hotmail.com", 5),
    ("icloud.com", 5),
    ("proton.me", 4),
    ("qq.com", 2),
    ("163.com", 1),
    ("naver.com", 1),
    ("gmx.de", 1),
    ("yandex.ru", 1),
    ("fastmail.com", 1),
)
_CORP_A = (
    "north",
    "blue",
    "acorn",
    "helio",
    "quill",
    "granite",
    "lumen",
    "orbit",
    "pine",
    "vantage",
    "cobalt",
    "meri",
    "sable",
    "tide",
    "juni",
    "apex",
    "kite",
    "nova",
    "ember",
    "delta",
    "sage",
)
_CORP_B = ("labs", "soft", "data", "works", "tech", "ai", "ly", "hq", "systems", "cloud", "io", "hub")
_CORP_TLD = (".com", ".io", ".ai", ".co", ".de", ".co.uk", ".dev", ".net")
_EDU = ("ac.uk", "edu", "edu.cn", "edu.sg", "ac.jp", "edu.au", "uni-{x}.de", "ac.in", "edu.br")
_UNI = ("state", "tech", "metro", "poly", "north", "coastal", "central", "royal", "capital", "valley")

# (family, api, user-agent template, versions)
_UA = (
    ("py", "anthropic.messages", "anthropic-python/{v}", ("0.39.0", "0.42.0", "0.45.2", "0.49.0", "0.52.1")),
    ("node", "anthropic.messages", "anthropic-typescript/{v}", ("0.32.1", "0.36.3", "0.39.0", "0.40.1")),
    ("py", "anthropic.messages", "litellm/{v}", ("1.55.3", "1.61.0", "1.63.7")),
    ("py", "anthropic.messages", "python-httpx/{v}", ("0.27.0", "0.27.2", "0.28.1")),
    ("curl", "anthropic.messages", "curl/{v}", ("7.81.0", "8.5.0", "8.7.1")),
    ("go", "anthropic.messages", "Go-http-client/{v}", ("1.1", "2.0")),
    ("py", "openai.chat.completions", "OpenAI/Python {v}", ("1.54.4", "1.59.7", "1.63.2", "1.66.3")),
    ("node", "openai.chat.completions", "OpenAI/JS {v}", ("4.73.0", "4.77.3", "4.85.1")),
    ("py", "openai.chat.completions", "python-requests/{v}", ("2.31.0", "2.32.3")),
    ("py", "openai.chat.completions", "langchain-openai/{v}", ("0.2.14", "0.3.7")),
    ("java", "openai.chat.completions", "okhttp/{v}", ("4.12.0", "5.0.0")),
    ("go", "openai.chat.completions", "Go-http-client/{v}", ("1.1", "2.0")),
)
_UA_W = (34, 10, 5, 4, 2, 2, 22, 9, 4, 4, 2, 2)
_JA4 = {
    "py": ("t13d1812h2_85036bcba153_b0da82dd1658", "t13d1712h2_5b57614c22b0_3d5424432f57"),
    "node": ("t13d1516h2_8daaf6152771_e5627efa2ab1",),
    "go": ("t13d1311h2_f57a46bbacb6_ab7e3b40a677",),
    "curl": ("t13d3112h2_e8f1e7e78f70_b26ce05bbdd6", "t13d3113h1_e8f1e7e78f70_c2ab7c8a8bb7"),
    "java": ("t13d4113h2_6dc3ee0e8e2e_1c6c4a5a1d9f",),
}
API_POP = (("anthropic.messages", 0.55), ("openai.chat.completions", 0.45))

# network kind -> list of (asn, first two octets pool); addresses are synthetic but routable-looking
NETS: dict[str, tuple[tuple[int, tuple[str, ...]], ...]] = {
    "residential": (
        (7922, ("73.15", "98.212", "24.60")),
        (701, ("71.190", "108.28")),
        (3320, ("84.157", "91.63")),
        (2856, ("86.140", "109.150")),
        (4134, ("116.25", "180.110")),
        (9829, ("117.200", "59.95")),
        (4766, ("121.133", "211.36")),
        (28573, ("177.72", "189.6")),
        (3215, ("90.27", "86.246")),
        (4713, ("126.72", "153.225")),
        (1136, ("77.172", "84.80")),
        (12322, ("82.64", "88.170")),
    ),
    "mobile": ((21928, ("172.58", "172.56")), (22394, ("174.195",)), (45609, ("223.181", "106.76"))),
    "datacenter": (
        (16509, ("3.91", "18.204", "52.14", "54.210")),
        (15169, ("34.82", "35.201")),
        (8075, ("20.51", "52.170")),
        (24940, ("88.198", "116.202")),
        (16276, ("51.77", "145.239")),
        (14061, ("159.89", "167.172")),
        (63949, ("172.104", "45.79")),
        (45102, ("47.88", "8.210")),
    ),
    "campus": ((88, ("128.112",)), (3, ("18.9",)), (786, ("131.111",)), (4538, ("166.111",)), (7377, ("132.239",))),
}


def weighted(r: Random, items: Sequence[tuple[str, float]]) -> str:
    x = r.random() * sum(w for _, w in items)
    for k, w in items:
        x -= w
        if x < 0:
            return k
    return items[-1][0]


def country(r: Random) -> str:
    return weighted(r, COUNTRIES)


def tz_for(r: Random, cc: str) -> float:
    zones = TZ_OF.get(cc, (0,))
    return float(zones[int(r.random() * len(zones))])


def corp_domain(r: Random) -> str:
    return r.choice(_CORP_A) + r.choice(_CORP_B) + r.choice(_CORP_TLD)


def edu_domain(r: Random) -> str:
    suffix = r.choice(_EDU).replace("{x}", r.choice(_UNI))
    return f"{r.choice(_UNI)}{r.choice(('', 'u', '-uni'))}.{suffix}" if "uni-" not in suffix else suffix


def email_domain(r: Random, pathway: str) -> str:
    """Sign-up domain given the pathway: consumer mail mostly, corporate and academic where expected."""
    x = r.random()
    if pathway in ("education", "research") and x < 0.7:
        return edu_domain(r)
    if pathway in ("enterprise", "startup", "reseller") and x < 0.75:
        return corp_domain(r)
    if x < 0.12:
        return corp_domain(r)
    return weighted(r, CONSUMER_MAIL)


def user_agent(r: Random, api: str) -> tuple[str, str]:
    """A user agent for a client of ``api`` and the JA4 of its TLS stack."""
    idx = [i for i, u in enumerate(_UA) if u[1] == api]
    x = r.random() * sum(_UA_W[i] for i in idx)
    pick = idx[-1]
    for i in idx:
        x -= _UA_W[i]
        if x < 0:
            pick = i
            break
    fam, _, tpl, versions = _UA[pick]
    ja = _JA4[fam]
    return tpl.format(v=r.choice(versions)), ja[int(r.random() * len(ja))]


def ip_in(r: Random, kind: str) -> tuple[str, int]:
    """One address of a network ``kind`` (residential, mobile, datacenter, campus), with its ASN."""
    nets = NETS[kind]
    asn, prefixes = nets[int(r.random() * len(nets))]
    if kind in ("residential", "mobile") and r.random() < 0.18:
        return (
            f"2a0{r.randint(1, 9)}:{r.randint(0x1000, 0xFFFF):x}:{r.randint(0, 0xFFFF):x}:"
            f"{r.randint(0, 0xFFFF):x}::{r.randint(1, 0xFFFF):x}",
            asn,
        )
    p = prefixes[int(r.random() * len(prefixes))]
    return f"{p}.{r.randint(0, 255)}.{r.randint(1, 254)}", asn


def subnet_pool(r: Random, kind: str, n: int) -> list[tuple[str, int]]:
    """``n`` addresses packed into a few /24s of one network (a NAT pool, a campus, a datacenter range)."""
    nets = NETS[kind]
    asn, prefixes = nets[int(r.random() * len(nets))]
    p = prefixes[int(r.random() * len(prefixes))]
    subnets = [f"{p}.{r.randint(0, 255)}" for _ in range(max(1, (n + 63) // 64))]
    return [(f"{subnets[i % len(subnets)]}.{r.randint(1, 254)}", asn) for i in range(n)]


def hexid(r: Random, n: int) -> str:
    return f"{r.getrandbits(4 * n):0{n}x}"
