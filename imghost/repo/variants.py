"""The SQL repo's records of variants: who makes one, and its facts once made."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import asdict

from sqlalchemy import Connection, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from imghost.repo.base import Variant
from imghost.repo.schema import uploads, variants

_VARIANT_COLUMNS = [column for column in variants.c if column.name not in ("maker", "until")]


class VariantRecords:
    """Mixed into `SqlRepo`, whose transactions it uses."""

    def _begin(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def variants_of(self, upload_id: str) -> list[Variant]:
        query = select(*_VARIANT_COLUMNS).where(variants.c.upload_id == upload_id)
        with self._begin() as conn:
            return [Variant(**row._mapping) for row in conn.execute(query)]

    def variants_of_all(self, upload_ids: list[str]) -> list[Variant]:
        if not upload_ids:
            return []
        query = select(*_VARIANT_COLUMNS).where(variants.c.upload_id.in_(upload_ids))
        with self._begin() as conn:
            return [Variant(**row._mapping) for row in conn.execute(query)]

    def claim_variant(
        self, variant: Variant, maker: str, now: float, seconds: float
    ) -> tuple[Variant, bool] | None:
        # Two makers that both find no record both insert: the second's insert fails, and it
        # then finds the first's record.
        for _ in range(2):
            try:
                return self._claim(variant, {"maker": maker, "until": now + seconds}, now)
            except IntegrityError:
                continue
        raise AssertionError("a variant record that both exists and does not")

    def _claim(
        self, variant: Variant, held: dict[str, object], now: float
    ) -> tuple[Variant, bool] | None:
        mine = and_(variants.c.upload_id == variant.upload_id, variants.c.preset == variant.preset)
        live = select(uploads.c.id).where(
            uploads.c.id == variant.upload_id, uploads.c.state == "ready"
        )
        with self._write() as conn:
            if conn.execute(live).first() is None:
                return None
            row = conn.execute(select(*_VARIANT_COLUMNS, variants.c.until).where(mine)).first()
            if row is None:
                conn.execute(insert(variants).values(**asdict(variant), **held))
                return variant, True
            found = Variant(**{k: v for k, v in row._mapping.items() if k != "until"})
            if found.state == "making" and row.until <= now:
                conn.execute(update(variants).where(mine).values(**held))
                return found, True
            return found, False

    def commit_variant(self, variant: Variant, maker: str) -> bool:
        mine = and_(
            variants.c.upload_id == variant.upload_id,
            variants.c.preset == variant.preset,
            variants.c.maker == maker,
        )
        facts = asdict(variant) | {"state": "ready"}
        with self._write() as conn:
            return conn.execute(update(variants).where(mine).values(**facts)).rowcount == 1

    def release_variant(self, variant: Variant, maker: str) -> None:
        mine = and_(
            variants.c.upload_id == variant.upload_id,
            variants.c.preset == variant.preset,
            variants.c.maker == maker,
            variants.c.state == "making",
        )
        with self._write() as conn:
            conn.execute(delete(variants).where(mine))
