"""The load generator's payloads: each malformed kind really breaks the contract."""

from __future__ import annotations

import pytest

from wayhouse.edge.schema import (
    MAX_PAYLOAD_BYTES,
    InvalidMessage,
    ShelfMessage,
    Stream,
    decode,
    parse_topic,
)
from wayhouse.simulators.load import (
    MALFORMED_KINDS,
    LoadConfig,
    load_agent_specs,
    malformed_payload,
    sensor_ids,
)

T0 = 1_700_000_000.0
BROKER_MAX_PACKET = 300_000  # max_packet_size of the project's Mosquitto


@pytest.mark.parametrize("kind", [k for k in MALFORMED_KINDS if k != "unknown_sensor"])
def test_each_malformed_kind_fails_validation(kind: str) -> None:
    topic, payload = malformed_payload(kind, "load-00001", 42, T0)
    agent, stream = parse_topic(topic)
    assert agent == "load-00001"
    with pytest.raises(InvalidMessage):
        decode(stream, payload)


def test_unknown_sensor_is_valid_json_for_a_sensor_the_agent_does_not_have() -> None:
    _topic, payload = malformed_payload("unknown_sensor", "load-00001", 42, T0)
    msg = decode(Stream.SHELF, payload)
    assert isinstance(msg, ShelfMessage) and msg.seq == 42
    assert msg.r[0].s not in sensor_ids("load-00001", 1000)


def test_oversize_is_over_the_contract_limit_but_under_the_broker_packet_limit() -> None:
    _, payload = malformed_payload("oversize", "load-00001", 1, T0)
    assert MAX_PAYLOAD_BYTES < len(payload) < BROKER_MAX_PACKET - 1000


def test_wrong_stream_is_a_shelf_message_on_the_gps_topic() -> None:
    topic, payload = malformed_payload("wrong_stream", "load-00001", 1, T0)
    assert parse_topic(topic)[1] is Stream.GPS
    assert isinstance(decode(Stream.SHELF, payload), ShelfMessage)


def test_load_agents_register_the_sensors_their_messages_use() -> None:
    specs = load_agent_specs(LoadConfig(agents=3, sensors_per_agent=4, prefix="lt"))
    assert [s.agent_id for s in specs] == ["lt-00001", "lt-00002", "lt-00003"]
    assert [x.sensor_id for x in specs[1].sensors] == sensor_ids("lt-00002", 4)
