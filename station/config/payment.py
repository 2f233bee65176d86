"""Configuration of the card payment terminal (ZVT)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from .base import Section, check_serial_url, check_tcp_url

if TYPE_CHECKING:
    from payments.zvt import ZvtSettings

_PASSWORD = re.compile(r"^\d{6}$")


class PaymentConfig(Section):
    """ZVT terminal: `tcp://host:20007` for ZVT over TCP, or a serial URL for ZVT over RS232."""

    port: str
    password: str = Field(default="123456", description="terminal password, 6 digits")
    config_byte: int = Field(default=0xBE, ge=0, le=0xFF, description="registration config byte")
    currency: int = Field(default=978, description="ISO 4217 number, 978 = EUR")
    baudrate: int = Field(default=9600, gt=0)
    refunds_enabled: bool = False
    idle_poll_s: float = Field(default=3.0, gt=0, le=60, description="status enquiry interval while idle")
    end_of_day: str = Field(default="03:30", description="local time for the daily end-of-day")
    ack_timeout_s: float = Field(default=5.0, gt=0, le=60, description="T3: wait for 80 00 00 after a command")
    dialogue_timeout_s: float = Field(default=180.0, gt=0, le=600, description="T4: whole dialogue")
    stopbits: Literal[1, 2] = Field(default=2, description="serial only; ZVT uses 8N2")
    inter_byte_timeout_s: float = Field(default=0.2, gt=0, le=5, description="T1: serial gap inside a frame")
    frame_ack_timeout_s: float = Field(default=15.0, gt=0, le=60, description="T2: serial wait for ACK/NAK")
    frame_retries: int = Field(default=3, ge=0, le=10, description="serial frame repetitions after NAK/no ACK")
    max_status_infos: int = Field(
        default=10, ge=1, le=255, description="BMP 02: how often the terminal repeats an approval we answer 'wait'"
    )
    decide_s: float = Field(default=3.0, gt=0, le=30, description="goods decision time before 'please wait'")
    status_enquiry_password: bool = Field(default=True, description="send the password with 05 01")

    @field_validator("password")
    @classmethod
    def _six_digits(cls, value: str) -> str:
        if not _PASSWORD.match(value):
            raise ValueError("must be exactly 6 digits")
        return value

    @field_validator("port")
    @classmethod
    def _port(cls, value: str) -> str:
        if value.startswith("tcp://"):
            return check_tcp_url(value)
        return check_serial_url(value)

    @field_validator("end_of_day")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", value):
            raise ValueError("expected HH:MM (24 h)")
        return value

    def zvt_settings(self) -> ZvtSettings:
        """The ZVT client's settings from this section."""
        from payments.zvt import ZvtSettings, ZvtTimers

        timers = ZvtTimers(
            t1_inter_byte=self.inter_byte_timeout_s,
            t2_frame_ack=self.frame_ack_timeout_s,
            t3_ack=self.ack_timeout_s,
            t4_dialogue=self.dialogue_timeout_s,
            serial_retries=self.frame_retries,
            decide_s=self.decide_s,
        )
        return ZvtSettings(
            url=self.port,
            password=self.password,
            config_byte=self.config_byte,
            currency=self.currency,
            baudrate=self.baudrate,
            stopbits=self.stopbits,
            refunds_enabled=self.refunds_enabled,
            max_status_infos=self.max_status_infos,
            status_enquiry_password=self.status_enquiry_password,
            timers=timers,
        )
