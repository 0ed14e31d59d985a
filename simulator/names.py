"""Word lists for the simulated Iranian FMCG distributor: people, shops, streets, cities, banks, goods."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrays import unique_ints

FIRST_NAMES = (
    "Ali", "Mohammad", "Hossein", "Reza", "Mehdi", "Hamid", "Saeed", "Majid", "Amir", "Hassan",
    "Mostafa", "Javad", "Morteza", "Abbas", "Mahmoud", "Behrouz", "Farhad", "Kamran", "Dariush",
    "Bahram", "Parviz", "Siamak", "Kourosh", "Babak", "Arash", "Omid", "Navid", "Peyman", "Pouya",
    "Sina", "Hadi", "Vahid", "Yousef", "Ebrahim", "Esmaeil", "Nader", "Karim", "Jalal", "Masoud",
    "Nima", "Shahin", "Ramin", "Afshin", "Iman", "Milad", "Soheil", "Kaveh", "Payam", "Ehsan", "Amin",
    "Fatemeh", "Zahra", "Maryam", "Masoumeh", "Sakineh", "Zeinab", "Leila", "Narges", "Mahsa", "Sara",
    "Elham", "Roya", "Shirin", "Parisa", "Neda", "Azadeh", "Samira", "Mina", "Nasrin", "Fariba",
    "Shahla", "Soheila", "Mitra", "Golnaz", "Niloufar", "Somayeh", "Marzieh", "Tahereh", "Azam",
    "Hanieh", "Negin", "Yasaman", "Bahareh", "Ladan", "Farzaneh", "Haleh", "Setareh", "Afsaneh",
    "Mojgan", "Nazanin", "Pegah", "Tina", "Atefeh", "Mahnaz", "Simin", "Shabnam", "Kobra", "Sedigheh",
    "Raheleh", "Forough",
)
LAST_NAMES = (
    "Mohammadi", "Hosseini", "Ahmadi", "Rezaei", "Moradi", "Karimi", "Jafari", "Rahimi", "Heidari",
    "Sadeghi", "Mousavi", "Hashemi", "Ghasemi", "Kazemi", "Rostami", "Ebrahimi", "Alavi", "Akbari",
    "Nazari", "Bagheri", "Abbasi", "Kiani", "Soltani", "Shirazi", "Tehrani", "Esfahani", "Tabrizi",
    "Yazdani", "Kermani", "Najafi", "Mahmoudi", "Salehi", "Ansari", "Farahani", "Navabi", "Mirzaei",
    "Amini", "Zamani", "Asadi", "Nouri", "Shahbazi", "Fallahi", "Golzari", "Hedayati", "Jalili",
    "Kamali", "Latifi", "Mansouri", "Niknam", "Omidi", "Pakzad", "Qorbani", "Ramezani", "Sharifi",
    "Taheri", "Vahidi", "Yousefi", "Zarei", "Azizi", "Babaei", "Dehghani", "Eskandari", "Fathi",
    "Ghaffari", "Habibi", "Islami", "Jamshidi", "Khalili", "Lotfi", "Maleki", "Nikpour", "Parsa",
    "Rahmani", "Sabouri", "Tavakoli", "Vaezi", "Yaghoubi", "Zandi", "Ashrafi", "Bahrami", "Daneshvar",
    "Fazeli", "Ghanbari", "Hamidi", "Javadi", "Khosravi", "Madani", "Nasiri", "Pourmand", "Rashidi",
    "Safari", "Torabi", "Valizadeh", "Zolfaghari", "Arabi", "Bakhtiari", "Darvishi", "Forouzan",
    "Gilani", "Hakimi", "Izadi", "Kashani", "Mazandarani", "Namdar", "Razavi", "Sepehri", "Shokri",
    "Vakili", "Zargar", "Asgari", "Barati", "Chamani", "Dadashi", "Emami", "Faraji", "Ghorbani",
    "Hojjati", "Keshavarz", "Mokhtari", "Noroozi", "Pirouz", "Rafiei", "Sajjadi",
)
LAST_NAME_SUFFIXES = ("", "", "", "", "zadeh", "-Rad", "-Nia", "-Far", "-Pour", "-Moghaddam")

SHOP_WORDS = (
    "Supermarket", "Market", "Grocery", "Store", "Minimarket", "Foodstuffs", "Trading", "Hypermarket",
    "Shop", "Mart", "Provisions", "Retail",
)
WHOLESALE_WORDS = ("Wholesale", "Distribution Co.", "Trading Co.", "Commerce", "Supply Co.", "Bazaar")
CHAIN_BRANDS = (
    "Shahrvand", "Ofogh", "Refah Plus", "Hyperstar Local", "Janbo", "Ka", "Canbo", "Etka Mart", "Beh Mart",
    "Day Mart", "Sepah Mart", "Yas Chain", "Setareh Chain", "Nik Mart", "Parvaz Stores", "Mahan Stores",
)

STREETS = (
    "Azadi", "Enghelab", "Valiasr", "Ferdowsi", "Hafez", "Saadi", "Imam Khomeini", "Taleghani",
    "Keshavarz", "Jomhouri", "Shariati", "Motahari", "Beheshti", "Modarres", "Pasdaran", "Kargar",
    "Bahar", "Golestan", "Nilufar", "Sepah", "Moallem", "Farhang", "Daneshgah", "Bazar", "Chamran",
    "Navvab", "Zand", "Karimkhan", "Mellat", "Shohada", "Bustan", "Laleh", "Narges", "Yas", "Abuzar",
    "Jahan", "Mofatteh", "Hejab", "Abbasabad", "Mirdamad", "Zafar", "Andarzgoo", "Niavaran", "Dolat",
    "Sohrevardi", "Bagh", "Aftab", "Mahtab", "Kowsar", "Resalat", "Hakim", "Sattarkhan", "Khayyam",
    "Molavi", "Rudaki", "Sanaei", "Attar", "Bahonar", "Kashani", "Ayatollahi", "Nabovvat", "Fatemi",
)
ALLEYS = tuple(f"{n}" for n in range(1, 41)) + (
    "Yas", "Nastaran", "Shaghayegh", "Sorkh", "Golha", "Parvin", "Mehr", "Azar", "Dey", "Bahman",
)

# (city, lat, lon, relative population weight)
CITIES = (
    ("Tehran", 35.6892, 51.3890, 9.0), ("Mashhad", 36.2605, 59.6168, 3.3), ("Isfahan", 32.6546, 51.6680, 2.2),
    ("Karaj", 35.8400, 50.9391, 1.9), ("Shiraz", 29.5918, 52.5837, 1.9), ("Tabriz", 38.0800, 46.2919, 1.6),
    ("Qom", 34.6416, 50.8746, 1.3), ("Ahvaz", 31.3183, 48.6706, 1.3), ("Kermanshah", 34.3142, 47.0650, 1.0),
    ("Urmia", 37.5527, 45.0761, 0.9), ("Rasht", 37.2808, 49.5832, 0.8), ("Zahedan", 29.4963, 60.8629, 0.7),
    ("Kerman", 30.2839, 57.0834, 0.7), ("Hamadan", 34.7983, 48.5148, 0.6), ("Yazd", 31.8974, 54.3569, 0.6),
    ("Ardabil", 38.2498, 48.2933, 0.6), ("Bandar Abbas", 27.1832, 56.2666, 0.6), ("Arak", 34.0954, 49.7013, 0.5),
    ("Zanjan", 36.6736, 48.4787, 0.5), ("Sanandaj", 35.3219, 46.9862, 0.5), ("Qazvin", 36.2688, 50.0041, 0.5),
    ("Khorramabad", 33.4878, 48.3558, 0.4), ("Gorgan", 36.8456, 54.4393, 0.4), ("Sari", 36.5633, 53.0601, 0.3),
    ("Bushehr", 28.9234, 50.8203, 0.3), ("Birjand", 32.8649, 59.2262, 0.2), ("Bojnurd", 37.4747, 57.3290, 0.2),
    ("Ilam", 33.6374, 46.4227, 0.2), ("Shahrekord", 32.3256, 50.8644, 0.2), ("Yasuj", 30.6682, 51.5880, 0.2),
    ("Semnan", 35.5729, 53.3971, 0.2),
)

# (bank, three-digit code used inside the simulated IBAN)
BANKS = (
    ("Bank Melli", 17), ("Bank Mellat", 12), ("Bank Saderat", 19), ("Bank Tejarat", 18),
    ("Bank Sepah", 15), ("Bank Pasargad", 57), ("Parsian Bank", 54), ("Saman Bank", 56),
    ("EN Bank", 55), ("Bank Keshavarzi", 16), ("Bank Maskan", 14), ("Refah Bank", 13),
    ("Sina Bank", 59), ("Bank Shahr", 61), ("Ayandeh Bank", 62),
)

# (category, unit, median list price in IRR per unit)
CATEGORIES = (
    ("Dairy", "carton", 1_800_000), ("Beverages", "carton", 2_400_000), ("Snacks", "carton", 1_500_000),
    ("Detergents", "carton", 4_200_000), ("Personal care", "carton", 3_600_000),
    ("Canned food", "carton", 3_000_000), ("Confectionery", "carton", 2_100_000),
    ("Rice & grains", "sack", 9_500_000), ("Cooking oil", "carton", 6_800_000), ("Tea", "carton", 7_500_000),
    ("Pasta", "carton", 2_600_000), ("Spices", "carton", 1_900_000),
)
BRANDS = (
    "Arya", "Setareh", "Nilufar", "Kaveh", "Tabesh", "Shahab", "Yas", "Mina", "Aftab", "Darya", "Baran",
    "Sahar", "Nika", "Roya", "Mahan", "Parsin", "Golpar", "Sepid", "Asal", "Rayhan", "Bahar", "Zarin",
    "Pouneh", "Shirin", "Kimia", "Hasti", "Avin", "Tara", "Dena", "Alvand",
)
PRODUCT_VARIANTS = (
    "Classic", "Family", "Mini", "Premium", "Light", "Gold", "Economy", "Extra", "Select", "Fresh",
    "Original", "Plus", "Value", "Deluxe", "Natural",
)


def person_names(rng: np.random.Generator, n: int) -> list[str]:
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    suffix = rng.integers(0, len(LAST_NAME_SUFFIXES), n)
    return [f"{FIRST_NAMES[f]} {LAST_NAMES[s]}{LAST_NAME_SUFFIXES[x]}" for f, s, x in zip(first, last, suffix, strict=True)]


def relative_name(rng: np.random.Generator, person: str) -> str:
    """A relative of ``person``: another first name, the same family name."""
    family = person.split(" ", 1)[1]
    return f"{FIRST_NAMES[int(rng.integers(0, len(FIRST_NAMES)))]} {family}"


def unique_numbers(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    """``n`` distinct integers in [low, high), in random order."""
    chosen = unique_ints(rng.integers(low, high, int(n * 1.2) + 16))
    while len(chosen) < n:
        chosen = unique_ints(np.concatenate([chosen, rng.integers(low, high, n)]))
    return rng.permutation(chosen)[:n]


def _text(parts) -> list[str]:
    """Concatenate string arrays / scalars element-wise (vectorised)."""
    return pc.binary_join_element_wise(*parts, "").to_pylist()


def _padded(values, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string()), width=width,
                        padding="0")


MOBILE_PREFIXES = (912, 935, 919, 936, 911, 917, 915, 914, 913, 901, 990, 921)


def phone_numbers(rng: np.random.Generator, n: int) -> list[str]:
    numbers = unique_numbers(rng, n, 0, len(MOBILE_PREFIXES) * 10**7)
    prefix = np.array(MOBILE_PREFIXES)[numbers // 10**7]
    return _text(["0", _padded(prefix * 10**7 + numbers % 10**7, 10)])


def bank_accounts(rng: np.random.Generator, n: int) -> tuple[list[str], np.ndarray]:
    """IBAN-like account numbers and the index of their bank in :data:`BANKS`."""
    numbers = unique_numbers(rng, n, 10**12, 10**13)
    bank = rng.integers(0, len(BANKS), n)
    check = rng.integers(10, 99, n)
    bank_code = np.array([b[1] for b in BANKS])[bank]
    texts = _text(["IR", _padded(check * 1000 + bank_code, 5), _padded(numbers, 13),
                   _padded((numbers * 7) % 1_000_000, 6)])
    return texts, bank


def national_ids(rng: np.random.Generator, n: int) -> list[str]:
    return _padded(unique_numbers(rng, n, 10**8, 10**10), 10).to_pylist()


def tax_ids(rng: np.random.Generator, n: int) -> list[str]:
    return _padded(unique_numbers(rng, n, 10**10, 10**12), 12).to_pylist()


def street_addresses(rng: np.random.Generator, cities: list[str], taken: set[str] | None = None) -> list[str]:
    """Distinct street addresses in the given cities (and distinct from ``taken``)."""
    n = len(cities)
    city_names, city_index = np.unique(np.array(cities, dtype=object), return_inverse=True)
    street = np.zeros(n, dtype=np.int64)
    alley = np.zeros(n, dtype=np.int64)
    plate = np.zeros(n, dtype=np.int64)
    pending = np.arange(n)
    texts: list[str] = [""] * n
    taken = taken or set()
    while len(pending):
        street[pending] = rng.integers(0, len(STREETS), len(pending))
        alley[pending] = rng.integers(0, len(ALLEYS), len(pending))
        plate[pending] = rng.integers(1, 220, len(pending))
        key = ((city_index * len(STREETS) + street) * len(ALLEYS) + alley) * 256 + plate
        is_pending = np.zeros(n, dtype=np.int64)
        is_pending[pending] = 1
        # Addresses already given out sort first, so a clash always sends the new one back.
        order = np.argsort(key * 2 + is_pending, kind="stable")
        ordered = key[order]
        first_seen = np.zeros(n, dtype=bool)
        first_seen[order] = np.r_[True, ordered[1:] != ordered[:-1]]
        made = _text(["No. ", pc.cast(pa.array(plate[pending]), pa.string()), ", ",
                      pa.array(ALLEYS, type=pa.string()).take(pa.array(alley[pending])), " Alley, ",
                      pa.array(STREETS, type=pa.string()).take(pa.array(street[pending])), " St., ",
                      pa.array(list(city_names), type=pa.string()).take(pa.array(city_index[pending]))])
        retry = []
        for i, text in zip(pending, made, strict=True):
            if not first_seen[i] or text in taken:
                retry.append(i)
            else:
                texts[i] = text
        pending = np.array(retry, dtype=np.int64)
    return texts


def reformat_address(address: str) -> str:
    """The same place written differently (as an alias account's clerk might type it)."""
    parts = [p.strip() for p in address.split(",")]
    plate = parts[0].replace("No. ", "")
    return f"{parts[2].replace(' St.', ' Street')}, {parts[1]}, {plate}, {parts[3]}"
