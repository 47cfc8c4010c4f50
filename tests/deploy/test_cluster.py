"""Three imghost instances behind nginx, sharing PostgreSQL, Redis and a SeaweedFS bucket.

The instances reach PostgreSQL and Redis through `Cuttable` forwarders, so a test can take
either away for real (reset connections, refused connects) without stopping the CI services.
Every instance runs one worker: this machine has two cores.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests
from PIL import Image
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from imghost.keys import display_prefix, generate_key, hash_key
from imghost.repo import migrations
from imghost.repo.schema import api_keys, leases, schema_version, uploads
from imghost.repo.sql import SqlRepo
from imghost.store.s3 import S3Settings, S3Store
from imghost.sweeper import LEASE_NAME
from tests.cdn import cdn_in_front_of
from tests.conftest import (
    IMGHOST,
    Server,
    auth,
    bucket_of,
    eventually,
    jpeg_bytes,
    s3_changes,
    unique_png,
)
from tests.deploy.test_nginx_front import half_closed_upload
from tests.nginx import cluster_site, needs_nginx, run_nginx
from tests.postgres import NO_POSTGRES, POSTGRES_URL, postgres_schema_url
from tests.seaweed import SeaweedS3
from tests.tcpcut import Cuttable

REDIS_URL = os.environ.get("IMGHOST_TEST_REDIS_URL", "")
INSTANCES = 3
# How long a change may take to reach every instance, and a service to be used again after it
# returns: settings are re-read every 2 s, and a broken pooled connection is replaced on use.
PROPAGATION_SECONDS = 10.0

pytestmark = [
    pytest.mark.cluster,
    needs_nginx,
    pytest.mark.skipif(not POSTGRES_URL, reason=NO_POSTGRES),
    pytest.mark.skipif(
        not REDIS_URL, reason="the cluster tests need IMGHOST_TEST_REDIS_URL (set by .ci/run)"
    ),
]


@dataclass
class Cluster:
    nodes: list[Server]
    front: str
    database_url: str
    postgres: Cuttable
    redis: Cuttable
    bucket: S3Settings
    admin_key: str

    def repo(self) -> SqlRepo:
        """The test's own connection, straight to PostgreSQL (not through the forwarder)."""
        return SqlRepo.connect(self.database_url)

    def new_key(self, *, daily_bytes: int = 0, rpm: int = 0) -> str:
        key = generate_key()
        repo = self.repo()
        try:
            repo.create_key(
                name="cluster-test",
                role="user",
                key_hash=hash_key(key),
                prefix=display_prefix(key),
                expires_at=None,
                daily_bytes=daily_bytes,
                rpm=rpm,
            )
        finally:
            repo.close()
        return key

    def put_settings(self, via: Server, changes: dict[str, object]) -> None:
        response = requests.put(
            via.url + "/api/settings", headers=auth(self.admin_key), json=changes, timeout=30
        )
        assert response.status_code == 200, response.text

    def assert_every_record_has_its_bytes(self) -> None:
        store = S3Store(self.bucket)
        repo = self.repo()
        try:
            with repo.engine.connect() as conn:
                ready = conn.execute(
                    select(uploads.c.storage_key).where(
                        uploads.c.state == "ready", uploads.c.store == "s3"
                    )
                ).all()
        finally:
            repo.close()
        assert ready
        assert [key for (key,) in ready if not store.exists(key)] == []


def upload(base_url: str, key: str, data: bytes) -> requests.Response:
    return requests.post(
        base_url + "/api/upload", headers=auth(key), files={"file": ("a.png", data)}, timeout=60
    )


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, seaweed: SeaweedS3) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("cluster")
    with (
        postgres_schema_url(POSTGRES_URL) as database_url,
        contextlib.closing(Cuttable(make_url(POSTGRES_URL).port or 5432)) as postgres,
        contextlib.closing(Cuttable(make_url(REDIS_URL).port or 6379)) as redis_cut,
    ):
        app_database_url = make_url(database_url).set(host="127.0.0.1", port=postgres.port)
        redis_url = f"redis://127.0.0.1:{redis_cut.port}/{make_url(REDIS_URL).database or 0}"
        admin_key = generate_key()
        env = {
            "IMGHOST_DATABASE_URL": app_database_url.render_as_string(hide_password=False),
            "IMGHOST_REDIS_URL": redis_url,
        }
        nodes = [
            Server(base / f"node{n}", workers=1, admin_key=admin_key, env=env)
            for n in range(INSTANCES)
        ]
        try:
            # All at once, on an empty database: they race to migrate and to create the key.
            for node in nodes:
                node.launch()
            for node in nodes:
                node.wait_ready()
            (base / "cache").mkdir()
            site = cluster_site([node.port for node in nodes], base / "cache")
            with run_nginx(site, base) as front:
                changes = s3_changes(seaweed)
                bucket = bucket_of(seaweed, changes)
                built = Cluster(nodes, front, database_url, postgres, redis_cut, bucket, admin_key)
                built.put_settings(nodes[0], {**changes, "public_url": front})
                for node in nodes:
                    assert eventually(
                        lambda node=node: upload_lands_in_s3(built, node), PROPAGATION_SECONDS
                    )
                yield built
        finally:
            for node in nodes:
                node.stop()


def upload_lands_in_s3(cluster: Cluster, node: Server) -> bool:
    response = upload(node.url, cluster.admin_key, unique_png())
    assert response.status_code == 200, response.text
    repo = cluster.repo()
    try:
        record = repo.get_upload(path_of(response.json()["data"]).rsplit("/", 1)[1].split(".")[0])
    finally:
        repo.close()
    assert record is not None
    return record.store == "s3"


def test_instances_started_together_migrate_once_and_share_one_admin_key(
    cluster: Cluster,
) -> None:
    repo = cluster.repo()
    try:
        with repo.engine.connect() as conn:
            versions = conn.execute(select(schema_version.c.version)).scalars().all()
            admins = conn.execute(
                select(api_keys.c.id).where(api_keys.c.key_hash == hash_key(cluster.admin_key))
            ).all()
    finally:
        repo.close()
    assert sorted(versions) == list(range(1, len(migrations.MIGRATIONS) + 1))
    assert len(admins) == 1
    for node in cluster.nodes:
        assert requests.get(node.url + "/readyz", timeout=5).status_code == 200


def test_any_instance_serves_what_another_stored(cluster: Cluster) -> None:
    key = cluster.new_key()
    for origin in cluster.nodes:
        data = unique_png(70, 50)
        response = upload(origin.url, key, data)
        assert response.status_code == 200, response.text
        url = response.json()["data"]
        assert url.startswith(cluster.front + "/uploads/")
        for node in cluster.nodes:
            served = requests.get(node.url + path_of(url), timeout=10)
            assert served.status_code == 200
            assert served.content == data
            assert served.headers["content-type"] == "image/png"
        assert requests.get(url, timeout=10).content == data


def test_a_client_that_half_closes_gets_its_answer_through_the_front(cluster: Cluster) -> None:
    answer = half_closed_upload(cluster.front, cluster.new_key(), unique_png())
    assert answer.startswith(b"HTTP/1.1 200 "), answer


def test_the_front_caches_images_fetched_from_the_bucket(cluster: Cluster) -> None:
    key = cluster.new_key()
    data = unique_png(90, 30)
    url = upload(cluster.front, key, data).json()["data"]
    first = requests.get(url, timeout=10)
    second = requests.get(url, timeout=10)
    assert (first.headers["x-cache-status"], second.headers["x-cache-status"]) == ("MISS", "HIT")
    assert first.content == second.content == data
    assert second.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert second.headers["etag"] == first.headers["etag"]


def test_public_mode_every_instance_points_at_the_same_cdn_url(cluster: Cluster) -> None:
    key = cluster.new_key()
    data = unique_png(40, 80)
    stored = path_of(upload(cluster.nodes[0].url, key, data).json()["data"])
    with cdn_in_front_of(cluster.bucket) as cdn:
        cluster.put_settings(
            cluster.nodes[1],
            {"storage.s3.get_mode": "public", "storage.s3.public_base_url": cdn},
        )
        try:
            cdn_url = f"{cdn}/{cluster.bucket.prefix}{stored.lstrip('/')}"
            for node in cluster.nodes:
                assert eventually(
                    lambda node=node: (
                        requests.get(
                            node.url + stored, allow_redirects=False, timeout=10
                        ).headers.get("location")
                        == cdn_url
                    ),
                    PROPAGATION_SECONDS,
                )
            assert requests.get(cdn_url, timeout=10).content == data
            fresh = upload(cluster.nodes[2].url, key, unique_png(41, 80)).json()["data"]
            assert fresh.startswith(f"{cdn}/{cluster.bucket.prefix}uploads/")
        finally:
            cluster.put_settings(cluster.nodes[1], {"storage.s3.get_mode": "proxy"})
    for node in cluster.nodes:
        assert eventually(
            lambda node=node: (
                requests.get(node.url + stored, allow_redirects=False, timeout=10).content == data
            ),
            PROPAGATION_SECONDS,
        )


def test_a_setting_changed_on_one_instance_reaches_every_instance(cluster: Cluster) -> None:
    key = cluster.new_key()
    photo = jpeg_bytes(120, 120)
    assert len(photo) > 4096
    cluster.put_settings(cluster.nodes[0], {"limits.max_upload_bytes": 4096})
    try:
        for node in cluster.nodes:
            assert eventually(
                lambda node=node: upload(node.url, key, photo).status_code == 413,
                PROPAGATION_SECONDS,
            )
    finally:
        cluster.put_settings(cluster.nodes[2], {"limits.max_upload_bytes": 20 * 1024 * 1024})
    for node in cluster.nodes:
        assert eventually(
            lambda node=node: upload(node.url, key, jpeg_bytes(120, 120)).status_code == 200,
            PROPAGATION_SECONDS,
        )


def spread_uploads(cluster: Cluster, key: str, images: list[bytes]) -> list[requests.Response]:
    """Every image at once, round-robin over the instances (not through nginx)."""
    barrier = threading.Barrier(len(images))

    def send(index: int) -> requests.Response:
        barrier.wait()
        return upload(cluster.nodes[index % INSTANCES].url, key, images[index])

    with ThreadPoolExecutor(len(images)) as pool:
        return list(pool.map(send, range(len(images))))


def same_size_png(index: int) -> bytes:
    """Distinct PNGs of one size: stored (level 0) deflate does not depend on the pixels."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (index, 7, 99)).save(buffer, format="PNG", compress_level=0)
    return buffer.getvalue()


def test_a_byte_quota_holds_exactly_across_instances(cluster: Cluster) -> None:
    images = [same_size_png(index) for index in range(32)]
    size = len(images[0])
    assert {len(image) for image in images} == {size}
    key = cluster.new_key(daily_bytes=10 * size + size // 2)
    answers = spread_uploads(cluster, key, images)
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 10 + [429] * 22
    refused = [answer for answer in answers if answer.status_code == 429]
    assert {answer.json()["code"] for answer in refused} == {"quota_exceeded"}
    assert all(int(answer.headers["retry-after"]) > 0 for answer in refused)


def test_a_rate_limit_holds_exactly_across_instances(cluster: Cluster) -> None:
    key = cluster.new_key(rpm=10)
    answers = spread_uploads(cluster, key, [unique_png(30, 30) for _ in range(32)])
    assert sorted(answer.status_code for answer in answers) == [200] * 10 + [429] * 22
    refused = {answer.json()["code"] for answer in answers if answer.status_code == 429}
    assert refused == {"rate_limited"}


def sweep_from(node: Server) -> str:
    return subprocess.run(
        [*IMGHOST, "sweep", "--data-dir", str(node.data_dir)],
        env={**os.environ, **node.env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def test_one_sweep_at_a_time_finishes_what_a_dead_sweeper_left(cluster: Cluster) -> None:
    key = cluster.new_key()
    urls = [upload(node.url, key, unique_png()).json()["data"] for node in cluster.nodes * 2]
    ids = [path_of(url).rsplit("/", 1)[1].split(".")[0] for url in urls]
    repo = cluster.repo()
    store = S3Store(cluster.bucket)
    try:
        records = [repo.get_upload(upload_id) for upload_id in ids]
        assert all(record is not None for record in records)
        locations = [record.where for record in records if record is not None]
        # What a sweeper killed mid-round leaves: the first upload's bytes deleted but its
        # record still there, and the lease still held by the dead process.
        store.delete(locations[0])
        with repo.engine.begin() as conn:
            conn.execute(
                update(uploads).where(uploads.c.id.in_(ids)).values(expires_at=time.time() - 1)
            )
        assert repo.take_lease(LEASE_NAME, "dead-sweeper", time.time(), 3600)
        assert "another imghost process is sweeping" in sweep_from(cluster.nodes[0])
        for url in urls:
            assert requests.get(url, timeout=10).status_code == 404
        # The dead process's lease lapses; then three instances sweep at once.
        with repo.engine.begin() as conn:
            conn.execute(update(leases).values(until=time.time() - 1))
        with ThreadPoolExecutor(INSTANCES) as pool:
            outputs = list(pool.map(sweep_from, cluster.nodes))
        removed = [int(out.split()[1]) for out in outputs if out.startswith("removed")]
        # A round takes every expired upload: two rounds at once would have split them.
        assert [count for count in removed if count] in ([len(ids)], [])
        assert all(repo.get_upload(upload_id) is None for upload_id in ids)
        assert not any(store.exists(location) for location in locations)
    finally:
        repo.close()


def test_killing_an_instance_under_load_loses_no_acknowledged_upload(cluster: Cluster) -> None:
    key = cluster.new_key()
    acknowledged: dict[str, bytes] = {}
    failures: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client() -> None:
        session = requests.Session()
        while not stop.is_set():
            data = unique_png(80, 60)
            answer = session.post(
                cluster.front + "/api/upload",
                headers=auth(key),
                files={"file": ("a.png", data)},
                timeout=60,
            )
            with lock:
                if answer.status_code == 200:
                    acknowledged[answer.json()["data"]] = data
                else:
                    failures.append(answer.status_code)

    clients = [threading.Thread(target=client) for _ in range(4)]
    for thread in clients:
        thread.start()
    victim = cluster.nodes[1]
    try:
        assert eventually(lambda: len(acknowledged) >= 20, seconds=60)
        victim.kill()
        at_kill = len(acknowledged)
        assert eventually(lambda: len(acknowledged) >= at_kill + 40, seconds=60)
    finally:
        stop.set()
        for thread in clients:
            thread.join()
    # Only the uploads in flight on the killed instance may fail, and only as nginx's 502.
    assert set(failures) <= {502}
    assert len(failures) <= len(clients)
    survivors = [node for node in cluster.nodes if node is not victim]
    for url, data in acknowledged.items():
        for node in survivors:
            assert requests.get(node.url + path_of(url), timeout=10).content == data
    victim.start()
    for url, data in acknowledged.items():
        assert requests.get(victim.url + path_of(url), timeout=10).content == data
    cluster.assert_every_record_has_its_bytes()


def test_postgres_outage_answers_503_and_heals_by_itself(cluster: Cluster) -> None:
    key = cluster.new_key()
    cluster.postgres.cut()
    try:
        for node in cluster.nodes:
            refused = upload(node.url, key, unique_png())
            assert refused.status_code == 503, refused.text
            body = refused.json()
            assert (body["success"], body["code"], body["data"]) == (
                False,
                "database_unavailable",
                None,
            )
            assert int(refused.headers["retry-after"]) > 0
            assert requests.get(node.url + "/readyz", timeout=10).status_code == 503
        through_front = upload(cluster.front, key, unique_png())
        assert through_front.json()["code"] == "database_unavailable"
    finally:
        cluster.postgres.restore()
    for node in cluster.nodes:
        assert eventually(
            lambda node=node: upload(node.url, key, unique_png()).status_code == 200,
            PROPAGATION_SECONDS,
        )
    cluster.assert_every_record_has_its_bytes()


def test_redis_outage_answers_503_and_heals_by_itself(cluster: Cluster) -> None:
    key = cluster.new_key(rpm=1000, daily_bytes=10**9)
    cluster.redis.cut()
    try:
        for node in cluster.nodes:
            refused = upload(node.url, key, unique_png())
            assert refused.status_code == 503, refused.text
            assert refused.json()["code"] == "limits_unavailable"
            assert int(refused.headers["retry-after"]) > 0
    finally:
        cluster.redis.restore()
    for node in cluster.nodes:
        assert eventually(
            lambda node=node: upload(node.url, key, unique_png()).status_code == 200,
            PROPAGATION_SECONDS,
        )
    cluster.assert_every_record_has_its_bytes()
