"""``yuqing demo``: load the bundled synthetic demo set so a newcomer sees a working system."""

from __future__ import annotations

from core.config import Settings
from core.services import Services


def cmd_demo(args, settings: Settings) -> int:
    from core.commands.data import wait_or_process
    from core.demo import generate_demo_posts

    services = Services.open(settings)
    try:
        posts = generate_demo_posts(seed=args.seed, days=args.days, n=args.n)
        accepted = 0
        for i in range(0, len(posts), 1000):
            accepted += services.inbox.put(posts[i : i + 1000], origin="demo").accepted
        how = wait_or_process(services)
        print(f"demo: queued {accepted} synthetic posts over {args.days} days; {how}")
        for hook in DEMO_HOOKS:
            hook(services, args)
        return 0
    finally:
        services.close()


# Later components (crawler fixture site, alert demo mail catcher) add callables(services, args).
DEMO_HOOKS: list = []

from alerts import demo_hook as _alerts_demo  # noqa: E402  (issue 7: alerts + mail catcher)

DEMO_HOOKS.append(_alerts_demo)

from crawler.demo import crawl_fixture_site as _crawl_demo  # noqa: E402  (issue 6: fixture site)

DEMO_HOOKS.append(_crawl_demo)


def register(sub) -> None:
    p = sub.add_parser("demo", help="load the synthetic demo data set (历城区, 7 days)")
    p.add_argument("--seed", type=int, default=20261126)
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--n", type=int, default=2400)
    p.set_defaults(func=cmd_demo)
