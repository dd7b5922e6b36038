"""Keys kept in the store: made once and the same for every process, brought in from an
older install's data dir, and never made when the operator set one."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from chunkwise.store import Store
from chunkwise.store.kept_secrets import ACCESS_TOKEN_KEY, WEBHOOK_KEY, setting_or_kept


def test_a_key_is_made_once_and_shared(store: Store, tmp_path: Path) -> None:
    first = setting_or_kept(store, given="", name=ACCESS_TOKEN_KEY, legacy_dir=tmp_path)
    assert len(first) >= 48
    assert setting_or_kept(store, given="", name=ACCESS_TOKEN_KEY, legacy_dir=tmp_path) == first
    assert setting_or_kept(store, given="", name=WEBHOOK_KEY, legacy_dir=tmp_path) != first


def test_processes_starting_at_once_agree_on_one_key(store: Store, tmp_path: Path) -> None:
    def ask(_: int) -> str:
        return setting_or_kept(store, given="", name=WEBHOOK_KEY, legacy_dir=tmp_path)

    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(ask, range(16)))
    assert len(keys) == 1


def test_an_older_install_brings_its_data_dir_key_in(store: Store, tmp_path: Path) -> None:
    (tmp_path / ACCESS_TOKEN_KEY).write_text("the-key-sessions-were-signed-with\n")
    kept = setting_or_kept(store, given="", name=ACCESS_TOKEN_KEY, legacy_dir=tmp_path)
    assert kept == "the-key-sessions-were-signed-with"


def test_a_key_the_operator_set_wins_and_nothing_is_made(store: Store, tmp_path: Path) -> None:
    assert setting_or_kept(store, given="set", name=WEBHOOK_KEY, legacy_dir=tmp_path) == "set"
    made = setting_or_kept(store, given="", name=WEBHOOK_KEY, legacy_dir=tmp_path)
    assert made != "set"
