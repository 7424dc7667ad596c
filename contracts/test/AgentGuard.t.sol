// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {AgentGuard, IModuleAvatar} from "../src/AgentGuard.sol";
import {SafeHarness, TestToken} from "./utils/SafeHarness.sol";

/// @notice Calls `transferFrom` for more than it declares: what the balance check is for.
contract Drainer {
    function pull(IERC20 token, address from, uint256 declared) external {
        token.transferFrom(from, address(this), declared * 10);
    }
}

abstract contract AgentGuardBase is SafeHarness {
    AgentGuard internal guard;
    TestToken internal usd;
    address internal agent = address(0xA6E47);
    address internal guardian = address(0x6A4D);
    address internal treasury = address(0x7EA5);
    address internal stranger = address(0xBAD);

    uint128 internal constant CAP = 1_000e18;
    uint32 internal constant WINDOW = 1 days;
    uint128 internal constant TIMELOCK_ABOVE = 400e18;
    uint32 internal constant DELAY = 1 hours;
    uint64 internal expiry;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        deploySafe();
        guard = new AgentGuard(IModuleAvatar(address(safe)), DELAY);
        usd = new TestToken();
        usd.mint(address(safe), 1_000_000e18);
        vm.deal(address(safe), 100 ether);

        // the owners enable the module and set the policy with real Safe transactions
        require(ownersExec(address(safe), abi.encodeCall(safe.enableModule, (address(guard)))), "enable");
        expiry = uint64(block.timestamp + 30 days);
        require(ownersExec(address(guard), abi.encodeCall(guard.grant, (agent, expiry))), "grant");
        AgentGuard.Scope memory transfer = AgentGuard.Scope({
            allowed: true, recipientArg: 0, amountArg: 1, capToken: address(usd), maxAmount: 600e18
        });
        vm.startPrank(address(safe));
        guard.setScope(agent, address(usd), IERC20.transfer.selector, transfer);
        guard.setScope(
            agent,
            treasury,
            bytes4(0),
            AgentGuard.Scope({
                allowed: true, recipientArg: 255, amountArg: 255, capToken: address(0), maxAmount: 0
            })
        );
        guard.setRecipient(agent, treasury, true);
        guard.setCap(agent, address(usd), CAP, WINDOW, TIMELOCK_ABOVE);
        guard.setCap(agent, address(0), 5 ether, WINDOW, 2 ether);
        guard.setGuardian(guardian, true);
        vm.stopPrank();
    }

    function transferData(address to, uint256 amount) internal view returns (bytes memory) {
        return abi.encodeCall(usd.transfer, (to, amount));
    }

    function send(uint256 amount, bytes32 decision) internal {
        vm.prank(agent);
        guard.execute(address(usd), 0, transferData(treasury, amount), decision);
    }
}

contract AgentGuardTest is AgentGuardBase {
    function test_transferInsideThePolicyMovesFunds() public {
        vm.expectEmit(true, true, true, true);
        emit AgentGuard.ActionExecuted(agent, keccak256("d1"), address(usd), 0, IERC20.transfer.selector);
        send(300e18, keccak256("d1"));
        vm.assertEq(usd.balanceOf(treasury), 300e18, "moved");
        vm.assertEq(guard.spentInWindow(agent, address(usd)), 300e18, "counted");
    }

    function test_nativeTransferToAllowedRecipient() public {
        vm.prank(agent);
        guard.execute(treasury, 1 ether, "", keccak256("eth"));
        vm.assertEq(treasury.balance, 1 ether, "moved");
        vm.assertEq(guard.spentInWindow(agent, address(0)), 1 ether, "counted");
    }

    function test_onlyTheSafeConfigures() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.NotSafe.selector, stranger));
        guard.grant(stranger, uint64(block.timestamp + 1 days));
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.NotSafe.selector, agent));
        guard.setCap(agent, address(usd), type(uint128).max, WINDOW, type(uint128).max);
    }

    function test_strangerIsNotAnAgent() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.NotAgent.selector, stranger));
        guard.execute(address(usd), 0, transferData(treasury, 1), keccak256("x"));
    }

    function test_otherTargetRefused() public {
        TestToken other = new TestToken();
        other.mint(address(safe), 1e18);
        vm.prank(agent);
        vm.expectRevert(
            abi.encodeWithSelector(AgentGuard.TargetNotAllowed.selector, address(other), IERC20.transfer.selector)
        );
        guard.execute(address(other), 0, abi.encodeCall(other.transfer, (treasury, 1)), keccak256("x"));
    }

    function test_otherSelectorRefused() public {
        vm.prank(agent);
        vm.expectRevert(
            abi.encodeWithSelector(AgentGuard.TargetNotAllowed.selector, address(usd), IERC20.approve.selector)
        );
        guard.execute(address(usd), 0, abi.encodeCall(usd.approve, (treasury, 1)), keccak256("x"));
    }

    function test_recipientNotOnTheAllowlistRefused() public {
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.RecipientNotAllowed.selector, stranger));
        guard.execute(address(usd), 0, transferData(stranger, 1), keccak256("x"));
        // a plain transfer to an address that is not a scoped target
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.TargetNotAllowed.selector, stranger, bytes4(0)));
        guard.execute(stranger, 1 ether, "", keccak256("y"));
    }

    function test_nativeToUnlistedButScopedTargetRefused() public {
        vm.prank(address(safe));
        guard.setRecipient(agent, treasury, false);
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.RecipientNotAllowed.selector, treasury));
        guard.execute(treasury, 1 ether, "", keccak256("x"));
    }

    function test_amountAboveThePerCallBoundRefused() public {
        vm.prank(address(safe));
        guard.setCap(agent, address(usd), CAP, WINDOW, type(uint128).max);
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.AmountAboveBound.selector, 601e18, 600e18));
        guard.execute(address(usd), 0, transferData(treasury, 601e18), keccak256("x"));
    }

    function test_capSplitAcrossSmallCallsRefused() public {
        for (uint256 i = 0; i < 10; ++i) {
            send(100e18, keccak256(abi.encode("split", i)));
            vm.warp(block.timestamp + 1 hours);
        }
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.CapExceeded.selector, address(usd), 1_000e18, 1, CAP));
        guard.execute(address(usd), 0, transferData(treasury, 1), keccak256("one more"));
        // a full window after the first spends, room comes back
        vm.warp(block.timestamp + 1 days);
        send(100e18, keccak256("next day"));
    }

    function test_nativeCapAndTimelock() public {
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.TimelockRequired.selector, address(0), 3 ether, 2 ether));
        guard.execute(treasury, 3 ether, "", keccak256("big"));
        vm.startPrank(agent);
        guard.execute(treasury, 2 ether, "", keccak256("a"));
        guard.execute(treasury, 2 ether, "", keccak256("b"));
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.CapExceeded.selector, address(0), 4 ether, 2 ether, 5 ether));
        guard.execute(treasury, 2 ether, "", keccak256("c"));
        vm.stopPrank();
    }

    function test_tokenWithoutCapRefused() public {
        TestToken other = new TestToken();
        other.mint(address(safe), 1e18);
        vm.startPrank(address(safe));
        guard.setScope(
            agent,
            address(other),
            IERC20.transfer.selector,
            AgentGuard.Scope({allowed: true, recipientArg: 0, amountArg: 1, capToken: address(other), maxAmount: 0})
        );
        vm.stopPrank();
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.NoCapForToken.selector, address(other)));
        guard.execute(address(other), 0, abi.encodeCall(other.transfer, (treasury, 1)), keccak256("x"));
    }

    function test_balanceDecreaseCountsWhenLargerThanDeclared() public {
        Drainer drainer = new Drainer();
        vm.startPrank(address(safe));
        usd.approve(address(drainer), type(uint256).max);
        guard.setScope(
            agent,
            address(drainer),
            Drainer.pull.selector,
            AgentGuard.Scope({allowed: true, recipientArg: 255, amountArg: 2, capToken: address(usd), maxAmount: 0})
        );
        vm.stopPrank();
        // declares 200, pulls 2,000: refused on the measured amount
        vm.prank(agent);
        vm.expectRevert(
            abi.encodeWithSelector(AgentGuard.TimelockRequired.selector, address(usd), 2_000e18, TIMELOCK_ABOVE)
        );
        guard.execute(
            address(drainer), 0, abi.encodeCall(drainer.pull, (usd, address(safe), 200e18)), keccak256("x")
        );
        vm.assertEq(usd.balanceOf(address(drainer)), 0, "nothing left the Safe");
    }

    function test_expiredGrantRefusedUntilRenewed() public {
        vm.warp(expiry);
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.GrantExpired.selector, agent, expiry));
        guard.execute(address(usd), 0, transferData(treasury, 1), keccak256("x"));
        uint64 later = uint64(block.timestamp + 1 days);
        vm.prank(address(safe));
        guard.renew(agent, later);
        send(1, keccak256("y"));
    }

    function test_grantsMustExpire() public {
        vm.startPrank(address(safe));
        uint64 now_ = uint64(block.timestamp);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.BadExpiry.selector, now_));
        guard.grant(stranger, now_);
        uint64 tooLate = uint64(block.timestamp + 366 days);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.BadExpiry.selector, tooLate));
        guard.grant(stranger, tooLate);
        vm.stopPrank();
    }

    function test_revocationByOwnersAndBySelf() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.NotSafe.selector, stranger));
        guard.revoke(agent);
        vm.prank(agent);
        guard.revoke(agent);
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.NotAgent.selector, agent));
        guard.execute(address(usd), 0, transferData(treasury, 1), keccak256("x"));
        // a new grant starts from an empty policy: the old scopes are gone
        vm.prank(address(safe));
        guard.grant(agent, uint64(block.timestamp + 1 days));
        vm.prank(agent);
        vm.expectRevert(
            abi.encodeWithSelector(AgentGuard.TargetNotAllowed.selector, address(usd), IERC20.transfer.selector)
        );
        guard.execute(address(usd), 0, transferData(treasury, 1), keccak256("y"));
    }

    function test_pauseByGuardianUnpauseOnlyByOwners() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.NotSafeOrGuardian.selector, stranger));
        guard.pause();
        vm.prank(guardian);
        guard.pause();
        vm.prank(agent);
        vm.expectRevert(AgentGuard.IsPaused.selector);
        guard.execute(address(usd), 0, transferData(treasury, 1), keccak256("x"));
        vm.prank(guardian);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.NotSafe.selector, guardian));
        guard.unpause();
        vm.prank(address(safe));
        guard.unpause();
        send(1, keccak256("x"));
    }

    function test_decisionIdUsableOnce() public {
        send(1, keccak256("once"));
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.DecisionAlreadyUsed.selector, keccak256("once")));
        guard.execute(address(usd), 0, transferData(treasury, 1), keccak256("once"));
    }

    function test_largeActionGoesThroughTheTimelock() public {
        bytes memory data = transferData(treasury, 500e18);
        bytes32 decision = keccak256("big");
        vm.prank(agent);
        vm.expectRevert(
            abi.encodeWithSelector(AgentGuard.TimelockRequired.selector, address(usd), 500e18, TIMELOCK_ABOVE)
        );
        guard.execute(address(usd), 0, data, decision);

        vm.prank(agent);
        bytes32 id = guard.queue(address(usd), 0, data, decision);
        uint64 eta = uint64(block.timestamp + DELAY);
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.TooEarly.selector, id, eta));
        guard.executeQueued(address(usd), 0, data, decision);

        vm.warp(eta);
        vm.prank(agent);
        guard.executeQueued(address(usd), 0, data, decision);
        vm.assertEq(usd.balanceOf(treasury), 500e18, "executed after the delay");

        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.NotQueued.selector, id, AgentGuard.QueueStatus.Executed));
        guard.executeQueued(address(usd), 0, data, decision);
    }

    function test_vetoedActionNeverExecutes() public {
        bytes memory data = transferData(treasury, 500e18);
        vm.prank(agent);
        bytes32 id = guard.queue(address(usd), 0, data, keccak256("big"));
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.NotSafeOrGuardian.selector, stranger));
        guard.veto(id);
        vm.prank(guardian);
        guard.veto(id);
        vm.warp(block.timestamp + DELAY);
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.NotQueued.selector, id, AgentGuard.QueueStatus.Vetoed));
        guard.executeQueued(address(usd), 0, data, keccak256("big"));
        // nor can the same decision be sent again directly
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.DecisionAlreadyUsed.selector, keccak256("big")));
        guard.execute(address(usd), 0, transferData(treasury, 1), keccak256("big"));
    }

    function test_agentWithdrawsItsOwnQueuedAction() public {
        bytes memory data = transferData(treasury, 500e18);
        vm.prank(agent);
        bytes32 id = guard.queue(address(usd), 0, data, keccak256("big"));
        // nobody else withdraws it: not a guardian, not a stranger
        vm.prank(guardian);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.NotAgent.selector, guardian));
        guard.withdraw(id);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.NotAgent.selector, stranger));
        guard.withdraw(id);
        // the agent does, even with its grant revoked meanwhile (giving power up needs none)
        vm.prank(address(safe));
        guard.revoke(agent);
        vm.expectEmit(true, true, false, true);
        emit AgentGuard.ActionWithdrawn(id, agent);
        vm.prank(agent);
        guard.withdraw(id);
        (,,, AgentGuard.QueueStatus status) = guard.queued(id);
        vm.assertEq(uint256(status), uint256(AgentGuard.QueueStatus.Withdrawn), "withdrawn");
        // once: then neither withdrawn again, vetoed, nor executed
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.NotQueued.selector, id, AgentGuard.QueueStatus.Withdrawn));
        guard.withdraw(id);
        vm.prank(guardian);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.NotQueued.selector, id, AgentGuard.QueueStatus.Withdrawn));
        guard.veto(id);
        vm.prank(address(safe));
        guard.grant(agent, uint64(block.timestamp + 1 days));
        vm.warp(block.timestamp + DELAY);
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.NotQueued.selector, id, AgentGuard.QueueStatus.Withdrawn));
        guard.executeQueued(address(usd), 0, data, keccak256("big"));
        vm.assertEq(usd.balanceOf(treasury), 0, "nothing moved");
    }

    function test_anExecutedOrUnknownActionCannotBeWithdrawn() public {
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.NotQueued.selector, bytes32(0), AgentGuard.QueueStatus.None));
        guard.withdraw(bytes32(0));
        bytes memory data = transferData(treasury, 500e18);
        vm.prank(agent);
        bytes32 id = guard.queue(address(usd), 0, data, keccak256("big"));
        vm.warp(block.timestamp + DELAY);
        vm.prank(agent);
        guard.executeQueued(address(usd), 0, data, keccak256("big"));
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.NotQueued.selector, id, AgentGuard.QueueStatus.Executed));
        guard.withdraw(id);
    }

    function test_queuedActionLapsesAfterTheGracePeriod() public {
        bytes memory data = transferData(treasury, 500e18);
        vm.prank(agent);
        bytes32 id = guard.queue(address(usd), 0, data, keccak256("big"));
        uint256 deadline = block.timestamp + DELAY + guard.GRACE_PERIOD();
        vm.warp(deadline + 1);
        vm.prank(address(safe));
        guard.renew(agent, uint64(block.timestamp + 1 days));
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.QueueExpired.selector, id, deadline));
        guard.executeQueued(address(usd), 0, data, keccak256("big"));
    }

    function test_queuedActionDiesWithItsPolicy() public {
        bytes memory data = transferData(treasury, 500e18);
        vm.prank(agent);
        bytes32 id = guard.queue(address(usd), 0, data, keccak256("big"));
        vm.startPrank(address(safe));
        guard.revoke(agent);
        guard.grant(agent, uint64(block.timestamp + 1 days));
        vm.stopPrank();
        vm.warp(block.timestamp + DELAY);
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.PolicyChanged.selector, id));
        guard.executeQueued(address(usd), 0, data, keccak256("big"));
    }

    function test_queueChecksScopeAndCapsStillApplyAtExecution() public {
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.RecipientNotAllowed.selector, stranger));
        guard.queue(address(usd), 0, transferData(stranger, 500e18), keccak256("bad"));

        send(400e18, keccak256("a"));
        send(400e18, keccak256("b"));
        bytes memory data = transferData(treasury, 500e18);
        vm.prank(agent);
        guard.queue(address(usd), 0, data, keccak256("big"));
        vm.warp(block.timestamp + DELAY);
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.CapExceeded.selector, address(usd), 800e18, 500e18, CAP));
        guard.executeQueued(address(usd), 0, data, keccak256("big"));
    }

    function test_guardAndSafeCannotBeScoped() public {
        AgentGuard.Scope memory any = AgentGuard.Scope({
            allowed: true, recipientArg: 255, amountArg: 255, capToken: address(0), maxAmount: 0
        });
        vm.startPrank(address(safe));
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.SelfTarget.selector, address(guard)));
        guard.setScope(agent, address(guard), AgentGuard.setCap.selector, any);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.SelfTarget.selector, address(safe)));
        guard.setScope(agent, address(safe), bytes4(keccak256("addOwnerWithThreshold(address,uint256)")), any);
        vm.stopPrank();
    }

    function test_malformedCalldataRefused() public {
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.CalldataTooShort.selector, 3, 4));
        guard.execute(address(usd), 0, hex"a9059c", keccak256("x"));
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.CalldataTooShort.selector, 36, 68));
        guard.execute(
            address(usd), 0, abi.encodePacked(IERC20.transfer.selector, uint256(uint160(treasury))), keccak256("y")
        );
        // an address word with high bits set
        bytes memory dirty =
            abi.encodePacked(IERC20.transfer.selector, uint256(uint160(treasury)) | (1 << 200), uint256(1));
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.MalformedAddressArgument.selector, 0));
        guard.execute(address(usd), 0, dirty, keccak256("z"));
    }

    function test_failingActionRevertsAndLeavesNoSpend() public {
        uint128 big = 2_000_000e18;
        vm.startPrank(address(safe));
        guard.setCap(agent, address(usd), big, WINDOW, big);
        guard.setScope(
            agent,
            address(usd),
            IERC20.transfer.selector,
            AgentGuard.Scope({allowed: true, recipientArg: 0, amountArg: 1, capToken: address(usd), maxAmount: 0})
        );
        vm.stopPrank();
        vm.prank(agent);
        vm.expectRevert(); // the Safe holds 1,000,000: the token reverts, the guard reports ActionFailed
        guard.execute(address(usd), 0, transferData(treasury, 1_500_000e18), keccak256("y"));
        vm.assertEq(guard.spentInWindow(agent, address(usd)), 0, "nothing counted");
        vm.assertFalse(guard.decisionUsed(keccak256("y")), "decision still free");
    }

    function testFuzz_neverMoreThanTheCapInAnyWindow(uint256[24] memory amounts, uint256[24] memory gaps) public {
        vm.prank(address(safe));
        guard.setCap(agent, address(usd), CAP, WINDOW, type(uint128).max);
        uint256[24] memory times;
        uint256[24] memory moved;
        uint256 n;
        for (uint256 i = 0; i < 24; ++i) {
            vm.warp(block.timestamp + bound(gaps[i], 0, 12 hours));
            uint256 amount = bound(amounts[i], 1, 600e18);
            vm.prank(agent);
            try guard.execute(address(usd), 0, transferData(treasury, amount), keccak256(abi.encode(i))) {
                times[n] = block.timestamp;
                moved[n] = amount;
                ++n;
            } catch {}
        }
        // every interval of WINDOW seconds that starts at a spend holds at most CAP
        for (uint256 i = 0; i < n; ++i) {
            uint256 sum;
            for (uint256 j = i; j < n && times[j] < times[i] + WINDOW; ++j) {
                sum += moved[j];
            }
            vm.assertTrue(sum <= CAP, "over the cap within one window");
        }
    }

    function testFuzz_unscopedSelectorRefused(bytes4 selector, bytes calldata rest) public {
        vm.assume(selector != IERC20.transfer.selector && selector != bytes4(0));
        bytes memory data = abi.encodePacked(selector, rest);
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.TargetNotAllowed.selector, address(usd), selector));
        guard.execute(address(usd), 0, data, keccak256("x"));
    }

    function testFuzz_unlistedRecipientRefused(address recipient, uint256 amount) public {
        vm.assume(recipient != treasury);
        amount = bound(amount, 1, 400e18);
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(AgentGuard.RecipientNotAllowed.selector, recipient));
        guard.execute(address(usd), 0, transferData(recipient, amount), keccak256("x"));
    }
}
