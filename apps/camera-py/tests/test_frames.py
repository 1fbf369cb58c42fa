import json
import unittest

from camfleet_camera import frames
from camfleet_camera.frames import ErrorFrame, Keepalive, ReconnectNotice, Result, Unknown


class EncodeTest(unittest.TestCase):
    def test_connection_params_secret(self) -> None:
        self.assertEqual(
            json.loads(frames.connection_params("cam-0001", secret="cfd_x")),
            {"method": "connectionParams", "data": {"deviceId": "cam-0001", "secret": "cfd_x"}},
        )

    def test_connection_params_enroll_token(self) -> None:
        self.assertEqual(
            json.loads(frames.connection_params("cam-0009", enroll_token="cfe_y"))["data"],
            {"deviceId": "cam-0009", "enrollToken": "cfe_y"},
        )

    def test_connection_params_needs_a_credential(self) -> None:
        with self.assertRaises(ValueError):
            frames.connection_params("cam-1")

    def test_mutation_input_is_wrapped(self) -> None:
        text = frames.request(1, "mutation", "device.register", {"model": "cam-x", "firmwareVersion": "1.0.0"})
        self.assertEqual(
            json.loads(text),
            {"id": 1, "method": "mutation",
             "params": {"path": "device.register", "input": {"json": {"model": "cam-x", "firmwareVersion": "1.0.0"}}}},
        )
        self.assertNotIn(" ", text)

    def test_no_input_is_json_null(self) -> None:
        self.assertEqual(json.loads(frames.request(1, "mutation", "device.enroll", None))["params"]["input"],
                         {"json": None})

    def test_subscription_last_event_id_in_params(self) -> None:
        frame = json.loads(frames.request(2, "subscription", "device.offers", {"lastEventId": "a#1"},
                                          last_event_id="a#1"))
        self.assertEqual(frame["params"]["lastEventId"], "a#1")
        self.assertEqual(frame["params"]["input"], {"json": {"lastEventId": "a#1"}})

    def test_subscription_stop(self) -> None:
        self.assertEqual(json.loads(frames.subscription_stop(2)), {"id": 2, "method": "subscription.stop"})


class DecodeTest(unittest.TestCase):
    def test_keepalive(self) -> None:
        self.assertEqual(frames.decode("PING"), Keepalive("PING"))
        self.assertEqual(frames.decode("PONG"), Keepalive("PONG"))

    def test_result_unwraps_envelope(self) -> None:
        f = frames.decode('{"id":1,"result":{"type":"data","data":{"json":{"id":"cam-0001","online":true}}}}')
        self.assertEqual(f, Result(1, "data", {"id": "cam-0001", "online": True}, None))

    def test_started_and_stopped(self) -> None:
        self.assertEqual(frames.decode('{"id":2,"result":{"type":"started"}}'), Result(2, "started"))
        self.assertEqual(frames.decode('{"id":2,"result":{"type":"stopped"}}'), Result(2, "stopped"))

    def test_subscription_data_carries_event_id(self) -> None:
        text = ('{"id":2,"result":{"type":"data","id":"ro_1:cam#1","data":{"json":{"id":"ro_1:cam#1",'
                '"data":{"type":"cancel","deliveryId":"ro_1:cam","attempt":1,"reason":"r"}}}}}')
        f = frames.decode(text)
        assert isinstance(f, Result)
        self.assertEqual(f.event_id, "ro_1:cam#1")
        self.assertEqual(f.data["data"]["type"], "cancel")

    def test_meta_is_ignored(self) -> None:
        f = frames.decode('{"id":3,"result":{"type":"data","data":{"json":{"a":1},"meta":{"values":{}}}}}')
        assert isinstance(f, Result)
        self.assertEqual(f.data, {"a": 1})

    def test_call_error(self) -> None:
        text = ('{"id":7,"error":{"json":{"message":"delivery already succeeded","code":-32009,"data":{"code":'
                '"CONFLICT","httpStatus":409,"path":"device.report","fleetCode":"DELIVERY_FINISHED","limit":null,'
                '"zodIssues":null}}}}')
        f = frames.decode(text)
        assert isinstance(f, ErrorFrame)
        self.assertEqual(f.id, 7)
        self.assertEqual((f.error.code, f.error.data_code, f.error.fleet_code, f.error.path),
                         (-32009, "CONFLICT", "DELIVERY_FINISHED", "device.report"))

    def test_connection_error_with_limit(self) -> None:
        text = ('{"id":null,"error":{"json":{"message":"too many failed logins","code":-32029,"data":{"code":'
                '"TOO_MANY_REQUESTS","httpStatus":429,"fleetCode":"TOO_MANY_REQUESTS","limit":{"name":'
                '"auth_failures_per_identity","knob":"K","retryAfterSeconds":60},"zodIssues":null}}}}')
        f = frames.decode(text)
        assert isinstance(f, ErrorFrame)
        self.assertIsNone(f.id)
        self.assertEqual(f.error.retry_after_s, 60.0)
        self.assertEqual(f.error.limit_name, "auth_failures_per_identity")

    def test_reconnect_notice(self) -> None:
        self.assertIsInstance(frames.decode('{"id":null,"method":"reconnect"}'), ReconnectNotice)

    def test_garbage(self) -> None:
        self.assertIsInstance(frames.decode("not json"), Unknown)
        self.assertIsInstance(frames.decode("[1]"), Unknown)
        self.assertIsInstance(frames.decode('{"id":1}'), Unknown)


if __name__ == "__main__":
    unittest.main()
