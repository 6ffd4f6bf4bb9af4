"""NFP/1 frames built from drivers/decoders/PROTOCOL.md alone (COBS, CRC-16/CCITT-FALSE,
SAMPLES/INFO/STATUS bodies), independently of the C encoder, so tests can
feed nordicd byte streams with exactly the events they want."""
import json
import struct


def crc16_ccitt_false(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


assert crc16_ccitt_false(b"123456789") == 0x29B1  # PROTOCOL.md check value


def cobs(data):
    out, block = bytearray(), bytearray()
    for b in data:
        if b == 0:
            out.append(len(block) + 1)
            out += block
            block = bytearray()
        else:
            block.append(b)
            if len(block) == 254:
                out.append(255)
                out += block
                block = bytearray()
    out.append(len(block) + 1)
    out += block
    return bytes(out)


def frame(ftype, payload):
    body = bytes([1, ftype]) + payload
    body += struct.pack("<H", crc16_ccitt_false(body))
    return cobs(body) + b"\x00"


def info(rate_hz, nch, model="PY-NFP", serial="T1", counts_per_newton=None):
    obj = {"model": model, "serial": serial, "rate_hz": rate_hz, "nch": nch}
    if counts_per_newton is not None:
        obj["counts_per_newton"] = counts_per_newton
    return frame(0x02, json.dumps(obj).encode())


def samples(seq, t_us, sets):
    """sets: list of per-set lists of raw counts (same nch)."""
    nch = len(sets[0])
    payload = struct.pack("<IIBB", seq & 0xFFFFFFFF, t_us & 0xFFFFFFFF, nch, len(sets))
    for s in sets:
        payload += struct.pack("<%di" % nch, *s)
    return frame(0x01, payload)


def status(overflows, flags=0):
    return frame(0x03, struct.pack("<IH", overflows, flags))
