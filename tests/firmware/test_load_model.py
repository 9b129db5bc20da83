# The meter's energy sources (roles/load_model.py, D1): the simulator's load model and the S0
# pulse input. Integer energy with carried remainders: nothing lost to rounding over a day.
from meterseal.hal.sim import SimPin
from meterseal.roles import load_model as lm


def test_flat_default_is_400_w_and_a_day_is_exactly_9_6_kwh():
    m = lm.LoadModel()
    assert m.power_w(0) == 400 and m.power_w(12345) == 400
    total = 0
    for i in range(86400 // 37 + 1):  # odd tick lengths, 37 s at scale 1000 = 37 ms real
        p, mwh = m.take(i * 37, 37, 1000)
        total += mwh
    # 86432 s at 400 W = 9603.55... Wh; the carried remainder keeps it exact to 1 mWh
    assert abs(total - 400 * 86432 * 1000 // 3600) <= 1


def test_household_shape_and_pv_export():
    m = lm.LoadModel({"base_w": 1000, "shape": "household", "pv_peak_w": 3000})
    assert m.power_w(19 * 3600) == 2000  # evening peak, 200 %
    assert m.power_w(3 * 3600) == 450
    assert m.power_w(43200) == 1150 - 3000  # 115 % at noon, PV peak: 1.85 kW exported
    # 07:30: halfway between 140 % and 130 %; PV at 7/16 of its peak (1312 W)
    assert m.power_w(7 * 3600 + 1800) == 1350 - 1312
    p, mwh = m.take(43200, 1000, 3600)  # one real second at 3600x = one hour of -1.85 kW
    assert p == -1850 and mwh == -1850000
    try:
        lm.LoadModel({"shape": [1, 2]})
        raise AssertionError("accepted a bad shape")
    except ValueError as e:
        assert "24 percentages" in str(e)


def test_s0_pulses_with_any_constant():
    pin = SimPin("s0")
    s0 = lm.S0Input(pin, 3000)  # 1 pulse = 1/3 Wh: the remainder must carry
    for _ in range(3000):
        pin.value(1)
        pin.value(0)
    p, mwh = s0.take(0, 1000, 1)
    assert mwh == 1000000 and p == 3600000  # 1 kWh in one second = 3.6 MW
    pin.value(1)
    pin.value(0)
    assert s0.take(0, 1000, 1)[1] == 333
    for _ in range(2):
        pin.value(1)
        pin.value(0)
    assert s0.take(0, 1000, 1)[1] == 667  # 3 pulses = exactly 1 Wh in total
    s0.set_constant(1000)
    pin.value(1)
    pin.value(0)
    assert s0.take(0, 1000, 1)[1] == 1000
