import pytest

from app.core.timelapse import embryo_key, parse_name


def test_embryoscope_name_with_run():
    info = parse_name("D2024.10.20_S01055_I4778_P_WELL06_RUN141.JPG")
    assert info.embryo_id == "D2024.10.20_S01055_I4778_P_WELL06"
    assert (info.date, info.slide, info.instrument, info.well, info.run) == ("2024-10-20", "01055", "4778", 6, 141)
    assert info.focal_plane is None and info.hours is None and info.is_timelapse


@pytest.mark.parametrize("name", [
    "D2024.10.20_S01055_I4778_P_WELL06_RUN141",  # a stem: the date's dots are not an extension
    "D2024.10.20_S01055_I4778_P_WELL06_RUN141.png",
    "sub/dir/D2024.10.20_S01055_I4778_P_WELL06_RUN157.tif",
])
def test_frames_of_one_embryo_share_a_key(name):
    assert embryo_key(name) == "D2024.10.20_S01055_I4778_P_WELL06"


def test_nantes_focal_planes_share_the_embryo():
    a = parse_name("D2013.01.28_S0717_I132_WELL7_RUN1_F-15.jpeg")
    b = parse_name("D2013.01.28_S0717_I132_WELL7_RUN2_F+30.jpeg")
    assert a.embryo_id == b.embryo_id == "D2013.01.28_S0717_I132_WELL7"
    assert (a.focal_plane, b.focal_plane) == (-15, 30)


def test_hours_and_p_dash_well_without_run():
    info = parse_name("D2020.01.01_S1_I2_P-3_44.5h.png")
    assert info.well == 3 and info.hours == 44.5
    assert info.embryo_id == "D2020.01.01_S1_I2_P-3"


def test_plain_names_are_their_own_embryo():
    info = parse_name("embryo 12.tif")
    assert info.embryo_id == "embryo 12" and not info.is_timelapse
    assert parse_name("synth_00012.png").well is None


def test_cleavage_embryo_names_key_by_embryo_not_frame():
    a, b = parse_name("20230306-2559-6-F0-197.png"), parse_name("20230306-2559-6-F0-233")
    c = parse_name("20230304-17097-4-F-15-233.json")
    assert a.embryo_id == b.embryo_id == "20230306-2559-6"
    assert (a.run, a.focal_plane, a.date) == (197, 0, "2023-03-06")
    assert (c.embryo_id, c.focal_plane, c.run) == ("20230304-17097-4", -15, 233)
    assert parse_name("20230304-17097-9-F0-212").embryo_id != c.embryo_id
