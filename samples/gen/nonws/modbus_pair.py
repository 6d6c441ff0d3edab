#!/usr/bin/env python3
"""A real Modbus/TCP exchange on loopback: pymodbus server and client (read and write
holding registers). Usage: modbus_pair.py PORT"""
import asyncio
import sys

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.datastore import (ModbusDeviceContext, ModbusSequentialDataBlock,
                                ModbusServerContext)
from pymodbus.server import StartAsyncTcpServer


async def main(port):
    block = ModbusSequentialDataBlock(1, list(range(100)))
    context = ModbusServerContext(devices=ModbusDeviceContext(hr=block), single=True)
    server = asyncio.create_task(StartAsyncTcpServer(context=context, address=("127.0.0.1", port)))
    await asyncio.sleep(1)
    client = AsyncModbusTcpClient("127.0.0.1", port=port)
    await client.connect()
    for i in range(4):
        rr = await client.read_holding_registers(i, count=8)
        print("read", rr.registers)
        await client.write_register(i, 1000 + i)
    client.close()
    await asyncio.sleep(0.5)
    server.cancel()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
