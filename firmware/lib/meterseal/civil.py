# Calendar arithmetic for UTC seconds since 1970, with no `time` module: the boards' gmtime
# disagree on their epoch (ESP32 2000, RP2040 1970), and X.509, M-Bus, IEC 62056-21 and SML all
# need dates. Proleptic Gregorian; the days-from-civil algorithm and its inverse (H. Hinnant's
# public-domain date algorithms): years start in March so the leap day is a year's last day.


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of the date y-m-d (negative before)."""
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + 9 if m <= 2 else m - 3) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil(t):
    """(year, month, day, hour, minute, second) of t seconds since 1970-01-01 UTC."""
    days, sec = divmod(t, 86400)
    days += 719468  # days since 0000-03-01
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (1 if m <= 2 else 0)
    return y, m, d, sec // 3600, sec // 60 % 60, sec % 60
