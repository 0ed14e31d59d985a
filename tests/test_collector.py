import gc

import pytest

from audit.collector import paused_cycle_collection


def test_collector_is_off_inside_and_back_after():
    assert gc.isenabled()
    with paused_cycle_collection():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_collector_comes_back_after_an_error():
    with pytest.raises(ValueError), paused_cycle_collection():
        raise ValueError("boom")
    assert gc.isenabled()


def test_collector_left_off_when_the_caller_had_turned_it_off():
    gc.disable()
    try:
        with paused_cycle_collection():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_long_lived_objects_are_frozen_only_while_the_components_run():
    import gc

    from audit.collector import long_lived_frozen

    kept = [object() for _ in range(10)]  # alive before: frozen with everything else
    with long_lived_frozen():
        assert gc.get_freeze_count() > len(kept)
    assert gc.get_freeze_count() == 0
